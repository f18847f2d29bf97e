import { Global, Inject, Module, type OnApplicationShutdown } from "@nestjs/common";
import { APP_CONFIG } from "../config/config.module";
import { publicUrl, type AppConfig } from "../config/app-config";
import { LocalStorage } from "./local.storage";
import { persistentSecret, randomSecret } from "./local-secrets";
import { S3Storage } from "./s3.storage";
import { STORAGE, type Storage } from "./storage.port";

/** Builds the adapter the configuration selects. The only place that knows which adapters exist. */
export function createStorage(config: AppConfig): Storage & { destroy?: () => void } {
  switch (config.STORAGE) {
    case "local":
      return new LocalStorage({
        dir: config.LOCAL_STORAGE_DIR,
        publicUrl: publicUrl(config),
        signingSecret: Buffer.from(
          config.LOCAL_SIGNING_SECRET ?? persistentSecret(config.LOCAL_STORAGE_DIR, "signing-secret", randomSecret()),
        ),
      });
    case "s3":
      return new S3Storage({
        bucket: config.S3_BUCKET!,
        region: config.S3_REGION,
        endpoint: config.S3_ENDPOINT,
        publicEndpoint: config.S3_PUBLIC_ENDPOINT,
        forcePathStyle: config.S3_FORCE_PATH_STYLE,
      });
  }
}

/** Binds the configured storage adapter to the `STORAGE` token. */
@Global()
@Module({
  providers: [{ provide: STORAGE, inject: [APP_CONFIG], useFactory: createStorage }],
  exports: [STORAGE],
})
export class StorageModule implements OnApplicationShutdown {
  constructor(@Inject(STORAGE) private readonly storage: Storage & { destroy?: () => void }) {}

  onApplicationShutdown(): void {
    this.storage.destroy?.();
  }
}
