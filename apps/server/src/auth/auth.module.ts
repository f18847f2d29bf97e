import { Module } from "@nestjs/common";
import { APP_CONFIG, PROJECTS } from "../config/config.module";
import type { AppConfig } from "../config/app-config";
import { ApiKeyGuard } from "./api-key.guard";
import { AUTH_RESOLVER, type AuthResolver } from "./auth-resolver";
import { DEV_ACCESS, devProjectsFile, resolveDevAccess, type DevAccess } from "./dev-access";
import { ProjectRegistry } from "./project-registry";
import type { ProjectsFile } from "./projects-file";

@Module({
  providers: [
    {
      provide: DEV_ACCESS,
      inject: [APP_CONFIG, PROJECTS, AUTH_RESOLVER],
      // Only when nothing else says who gets in: no projects file and no resolver of an embedding app.
      useFactory: (config: AppConfig, projects: ProjectsFile | null, resolver: AuthResolver | null) =>
        projects || resolver ? null : resolveDevAccess(config),
    },
    {
      provide: ProjectRegistry,
      inject: [PROJECTS, DEV_ACCESS],
      // With a custom resolver there are neither: an empty registry (no API key opens anything).
      useFactory: (projects: ProjectsFile | null, dev: DevAccess | null) =>
        new ProjectRegistry(projects ?? (dev ? devProjectsFile(dev) : { projects: [], apiKeys: [] })),
    },
    ApiKeyGuard,
  ],
  exports: [ProjectRegistry, ApiKeyGuard, DEV_ACCESS],
})
export class AuthModule {}
