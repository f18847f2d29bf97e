import { Global, Module, type DynamicModule } from "@nestjs/common";
import { UPLOAD_LIFECYCLE_HOOKS, type UploadLifecycleHooks } from "./upload-lifecycle.hooks";
import { UploadLifecycle } from "./upload-lifecycle.service";

/** The upload lifecycle: the embedding application's hooks (`UPLOAD_LIFECYCLE_HOOKS`) and what runs them. */
@Global()
@Module({})
export class LifecycleModule {
  static forRoot(hooks: UploadLifecycleHooks = {}): DynamicModule {
    return {
      module: LifecycleModule,
      providers: [{ provide: UPLOAD_LIFECYCLE_HOOKS, useValue: hooks }, UploadLifecycle],
      exports: [UPLOAD_LIFECYCLE_HOOKS, UploadLifecycle],
    };
  }
}
