import { Module } from "@nestjs/common";
import { APP_CONFIG } from "../config/config.module";
import type { AppConfig } from "../config/app-config";
import { ApiKeyGuard } from "./api-key.guard";
import { DEV_ACCESS, devProjectsFile, resolveDevAccess, type DevAccess } from "./dev-access";
import { ProjectRegistry } from "./project-registry";
import { readProjectsFile } from "./projects-file";

@Module({
  providers: [
    { provide: DEV_ACCESS, inject: [APP_CONFIG], useFactory: resolveDevAccess },
    {
      provide: ProjectRegistry,
      inject: [APP_CONFIG, DEV_ACCESS],
      useFactory: (config: AppConfig, dev: DevAccess | null) =>
        new ProjectRegistry(config.PROJECTS_FILE ? readProjectsFile(config.PROJECTS_FILE) : devProjectsFile(dev!)),
    },
    ApiKeyGuard,
  ],
  exports: [ProjectRegistry, ApiKeyGuard, DEV_ACCESS],
})
export class AuthModule {}
