import { Global, Module } from "@nestjs/common";
import { WebhooksModule } from "../webhooks/webhooks.module";
import { UploadLifecycle } from "./upload-lifecycle.service";

/**
 * The upload lifecycle: what runs the embedding application's hooks (`UPLOAD_LIFECYCLE_HOOKS`, provided with the rest
 * of the gateway's setup by GatewaySetupModule) and records the events for the projects' webhooks.
 */
@Global()
@Module({ imports: [WebhooksModule], providers: [UploadLifecycle], exports: [UploadLifecycle] })
export class LifecycleModule {}
