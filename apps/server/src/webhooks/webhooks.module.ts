import { Module } from "@nestjs/common";
import { WebhookOutbox } from "./webhook-outbox.service";

/** Signed webhooks of the projects' upload events (PROJECTS_FILE `webhooks`), delivered from an outbox in the store. */
@Module({
  providers: [WebhookOutbox],
  exports: [WebhookOutbox],
})
export class WebhooksModule {}
