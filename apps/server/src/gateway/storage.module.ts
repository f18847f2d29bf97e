import { Global, Inject, Logger, Module, type OnApplicationShutdown } from "@nestjs/common";
import type { GatewaySetup } from "./gateway-setup.module";
import { EMBEDDED_STORE, GATEWAY_SETUP, STORAGE } from "../tokens";
import { instrumentStorage } from "../observability/instrumented-storage";
import { publicUrl, s3Credentials, type AppConfig } from "../config/app-config";
import { LocalStorage } from "../storage/local.storage";
import { persistentSecret, randomSecret } from "../storage/local-secrets";
import type { Storage } from "../storage/storage.port";

/**
 * Builds the adapter the configuration selects. The only place that knows which adapters exist. The S3 adapter is
 * loaded only when selected: the AWS SDK it imports costs ~0.2 s of CPU at every start on the embedded store.
 */
export async function createStorage(config: AppConfig): Promise<Storage & { destroy?: () => void }> {
  switch (config.STORAGE) {
    case "local":
      return new LocalStorage({
        dir: config.LOCAL_STORAGE_DIR,
        publicUrl: publicUrl(config),
        signingSecret: Buffer.from(
          config.LOCAL_SIGNING_SECRET ?? persistentSecret(config.LOCAL_STORAGE_DIR, "signing-secret", randomSecret()),
        ),
        durable: config.LOCAL_STORAGE_FSYNC,
        eTags: config.LOCAL_STORAGE_ETAGS,
        warn: (message) => new Logger("LocalStorage").warn(message),
      });
    case "s3": {
      const { S3Storage } = await import("../storage/s3.storage.js");
      return new S3Storage({
        bucket: config.S3_BUCKET!,
        region: config.S3_REGION,
        endpoint: config.S3_ENDPOINT,
        publicEndpoint: config.S3_PUBLIC_ENDPOINT,
        forcePathStyle: config.S3_FORCE_PATH_STYLE,
        credentials: s3Credentials(config),
        eTagsAreMd5: config.S3_ETAGS_ARE_MD5,
        singlePutAcl: config.S3_SINGLE_PUT_ACL,
      });
    }
  }
}

/** Binds the configured storage adapter to the `STORAGE` token (and the embedded store to `EMBEDDED_STORE`). */
@Global()
@Module({
  providers: [
    {
      provide: STORAGE,
      inject: [GATEWAY_SETUP],
      // Observed from outside (latency, errors, failures logged with their cause): the adapters stay plain. An
      // adapter the embedding app made is its own to close, so only one made here is destroyed at shutdown.
      useFactory: async ({ config, storage, observeStorage, logger }: GatewaySetup) =>
        instrumentStorage(storage ?? (await createStorage(config)), observeStorage, logger),
    },
    {
      provide: EMBEDDED_STORE,
      inject: [STORAGE],
      useFactory: (storage: Storage) => (storage instanceof LocalStorage ? storage : null),
    },
  ],
  exports: [STORAGE, EMBEDDED_STORE],
})
export class StorageModule implements OnApplicationShutdown {
  constructor(
    @Inject(STORAGE) private readonly storage: Storage & { destroy?: () => void },
    @Inject(GATEWAY_SETUP) private readonly setup: GatewaySetup,
  ) {}

  onApplicationShutdown(): void {
    if (!this.setup.storage) this.storage.destroy?.();
  }
}
