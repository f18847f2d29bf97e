import { Global, Module } from "@nestjs/common";
import { UploadLifecycle } from "./upload-lifecycle.service";

/**
 * The upload lifecycle: what runs the embedding application's hooks (`UPLOAD_LIFECYCLE_HOOKS`, provided with the rest
 * of the gateway's setup by GatewaySetupModule).
 */
@Global()
@Module({ providers: [UploadLifecycle], exports: [UploadLifecycle] })
export class LifecycleModule {}
