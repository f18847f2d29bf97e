import { Module } from "@nestjs/common";
import { APP_CONFIG, PROJECTS } from "../config/config.module";
import { ApiKeyGuard } from "./api-key.guard";
import { DEV_ACCESS, devProjectsFile, resolveDevAccess, type DevAccess } from "./dev-access";
import { ProjectRegistry } from "./project-registry";
import type { ProjectsFile } from "./projects-file";

@Module({
  providers: [
    { provide: DEV_ACCESS, inject: [APP_CONFIG], useFactory: resolveDevAccess },
    {
      provide: ProjectRegistry,
      inject: [PROJECTS, DEV_ACCESS],
      useFactory: (projects: ProjectsFile | null, dev: DevAccess | null) =>
        new ProjectRegistry(projects ?? devProjectsFile(dev!)),
    },
    ApiKeyGuard,
  ],
  exports: [ProjectRegistry, ApiKeyGuard, DEV_ACCESS],
})
export class AuthModule {}
