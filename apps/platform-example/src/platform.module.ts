import { Module, type DynamicModule } from "@nestjs/common";
import { UploadGatewayModule, hashApiKey } from "@upload-gateway/server";
import { CatalogController } from "./catalog.controller";
import { CatalogModule } from "./catalog.module";
import { CatalogService } from "./catalog.service";
import { mediaStartBodySchema } from "./media.contract";
import { mediaHooks } from "./media-hooks";
import { PLATFORM_API_KEY, PlatformAccessGuard } from "./platform-access.guard";

export interface PlatformOptions {
  /** Where the embedded store keeps the files. */
  dataDir: string;
  /** Where clients reach this app, e.g. http://127.0.0.1:4000 (the part URLs point there). */
  publicUrl: string;
  /** The key of the one project, `newsroom`. */
  apiKey: string;
}

export const PROJECT_ID = "newsroom";

/** The platform's app: its own catalog route, and the gateway under /media with the platform's start field and hooks. */
@Module({})
export class PlatformModule {
  static forRoot(options: PlatformOptions): DynamicModule {
    return {
      module: PlatformModule,
      imports: [
        CatalogModule,
        UploadGatewayModule.forRootAsync({
          path: "/media",
          imports: [CatalogModule],
          inject: [CatalogService],
          useFactory: (catalog: CatalogService) => ({
            storage: { type: "local", dir: options.dataDir },
            publicUrl: options.publicUrl,
            auth: {
              projects: {
                projects: [{ id: PROJECT_ID, maxFileSize: 10 * 1024 ** 3 }],
                apiKeys: [{ name: "platform", sha256: hashApiKey(options.apiKey), projects: [PROJECT_ID] }],
              },
            },
            startBody: mediaStartBodySchema,
            hooks: mediaHooks(catalog),
          }),
        }),
      ],
      controllers: [CatalogController],
      providers: [{ provide: PLATFORM_API_KEY, useValue: options.apiKey }, PlatformAccessGuard],
    };
  }
}
