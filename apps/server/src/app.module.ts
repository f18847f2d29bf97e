import { Module, type DynamicModule } from "@nestjs/common";
import { APP_FILTER } from "@nestjs/core";
import type { Logger } from "pino";
import type { ProjectsFile } from "./auth/projects-file";
import type { AppConfig } from "./config/app-config";
import { ConfigModule } from "./config/config.module";
import { DevModule } from "./dev/dev.module";
import { DocsModule } from "./docs/docs.module";
import { HealthModule } from "./health/health.module";
import { LifecycleModule } from "./lifecycle/lifecycle.module";
import type { UploadLifecycleHooks } from "./lifecycle/upload-lifecycle.hooks";
import type { GatewayMetrics } from "./observability/metrics";
import { ObservabilityModule } from "./observability/observability.module";
import { LocalStoreHttpModule } from "./local-store-http/local-store-http.module";
import { SiteModule } from "./site/site.module";
import { EnvelopeExceptionFilter } from "./errors/envelope-exception.filter";
import { StorageModule } from "./storage/storage.module";
import { UploadsModule } from "./uploads/uploads.module";

@Module({})
export class AppModule {
  static forRoot(
    config: AppConfig,
    projects: ProjectsFile | null,
    logger: Logger,
    metrics: GatewayMetrics,
    hooks: UploadLifecycleHooks = {},
  ): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config, projects), ObservabilityModule.forRoot(logger, metrics), LifecycleModule.forRoot(hooks), StorageModule, LocalStoreHttpModule, UploadsModule, HealthModule, DocsModule, DevModule, SiteModule],
      providers: [{ provide: APP_FILTER, useClass: EnvelopeExceptionFilter }],
    };
  }
}
