import { Global, Module, type DynamicModule } from "@nestjs/common";
import type { ProjectsFile } from "../auth/projects-file";
import type { AppConfig } from "./app-config";

export const APP_CONFIG = Symbol("AppConfig");
/** The validated `PROJECTS_FILE`, or null without one (dev mode). */
export const PROJECTS = Symbol("Projects");

/**
 * Makes the validated configuration injectable everywhere as `APP_CONFIG`, and the projects file as `PROJECTS`.
 * Both are read and validated before Nest starts, so a bad value stops the server with one clean message instead of
 * an error logged by Nest's injector with a stack trace.
 */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig, projects: ProjectsFile | null): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: PROJECTS, useValue: projects },
      ],
      exports: [APP_CONFIG, PROJECTS],
    };
  }
}
