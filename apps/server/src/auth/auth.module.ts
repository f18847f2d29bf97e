import { Module } from "@nestjs/common";
import { APP_CONFIG, PROJECTS, AUTH_RESOLVER, DEV_ACCESS, TOKEN_SIGNING_KEYS } from "../tokens";
import type { AppConfig } from "../config/app-config";
import type { AuthResolver } from "./auth-resolver";
import { Authenticator } from "./authenticator";
import { devProjectsFile, resolveDevAccess, type DevAccess } from "./dev-access";
import { IdentityProviderVerifier } from "./identity-provider.verifier";
import { ProjectAccessGuard } from "./project-access.guard";
import { ProjectRegistry } from "./project-registry";
import type { ProjectsFile } from "./projects-file";
import { resolveTokenSigningKeys } from "./token-signing-keys";
import { UploadTokensController } from "./upload-tokens.controller";
import { UploadTokens } from "./upload-tokens.service";

@Module({
  controllers: [UploadTokensController],
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
    { provide: TOKEN_SIGNING_KEYS, inject: [APP_CONFIG], useFactory: resolveTokenSigningKeys },
    UploadTokens,
    IdentityProviderVerifier,
    Authenticator,
    ProjectAccessGuard,
  ],
  exports: [ProjectRegistry, Authenticator, ProjectAccessGuard, UploadTokens, DEV_ACCESS],
})
export class AuthModule {}
