import { Module } from "@nestjs/common";
import { APP_CONFIG } from "../config/config.module";
import type { AppConfig } from "../config/app-config";
import { ApiKeyGuard } from "./api-key.guard";
import { ProjectRegistry } from "./project-registry";
import { readProjectsFile } from "./projects-file";

@Module({
  providers: [
    {
      provide: ProjectRegistry,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new ProjectRegistry(readProjectsFile(config.PROJECTS_FILE!)),
    },
    ApiKeyGuard,
  ],
  exports: [ProjectRegistry, ApiKeyGuard],
})
export class AuthModule {}
