import { Global, Module } from "@nestjs/common";
import { WebhooksModule } from "../webhooks/webhooks.module";
import { UploadLifecycle } from "../uploads/lifecycle/upload-lifecycle.service";
import { WebhookOutbox } from "../webhooks/webhook-outbox.service";
import { UPLOAD_EVENT_OUTBOX } from "../tokens";

/**
 * The upload lifecycle: what runs the embedding application's hooks (`UPLOAD_LIFECYCLE_HOOKS`, provided with the rest
 * of the gateway's setup by GatewaySetupModule) and records the events for the projects' webhooks: the webhooks'
 * outbox is bound here to the lifecycle's `UPLOAD_EVENT_OUTBOX`, so that uploads/ does not import webhooks/ (which
 * sits above it).
 */
@Global()
@Module({
  imports: [WebhooksModule],
  providers: [UploadLifecycle, { provide: UPLOAD_EVENT_OUTBOX, useExisting: WebhookOutbox }],
  exports: [UploadLifecycle],
})
export class LifecycleModule {}
