import {
  Inject,
  Injectable,
  Optional,
  createParamDecorator,
  type CanActivate,
  type ExecutionContext,
} from "@nestjs/common";
import type { IncomingHttpHeaders } from "node:http";
import { ApiError } from "../errors/api-error";
import type { ProjectDefaults } from "./auth-resolver";
import { PROJECT_DEFAULTS } from "../tokens";
import { Authenticator } from "./authenticator";
import type { Principal } from "./principal";
import type { Project } from "./projects-file";

/** What the guard reads of a request, the same on Fastify and on Express: its path parameters and headers. */
type AuthorizedRequest = {
  params?: Record<string, string | undefined>;
  headers: IncomingHttpHeaders;
  principal?: Principal;
};

/**
 * Lets a request through only with `Authorization: Bearer <credential>` allowed on the `:projectId` in its path: an
 * API key of the project, or an upload token (the gateway's own or an identity provider's) for it. 401 for a missing,
 * unknown or invalid credential (`TOKEN_EXPIRED` for an expired token), 404 for an unknown project, 403 for a credential
 * of other projects. Credentials are never logged. What a token may do on the project is up to each route.
 * An embedding app's `AuthResolver` decides in place of API keys (see `Authenticator`).
 */
@Injectable()
export class ProjectAccessGuard implements CanActivate {
  constructor(
    @Inject(Authenticator) private readonly authenticator: Authenticator,
    @Optional() @Inject(PROJECT_DEFAULTS) private readonly defaults: ProjectDefaults | null = null,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthorizedRequest>();
    const projectId = request.params?.projectId ?? "";
    const principal = await this.authenticator.authenticateRequest(request, projectId);
    const project = principal.project;
    request.principal = this.defaults
      ? { ...principal, project: { ...this.defaults, ...withoutUndefined(project), id: project.id } }
      : principal;
    return true;
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Who the `ProjectAccessGuard` authorized for this request. */
export const AuthorizedPrincipal = createParamDecorator((_: unknown, context: ExecutionContext): Principal => {
  const principal = context.switchToHttp().getRequest<AuthorizedRequest>().principal;
  if (!principal) throw new Error("AuthorizedPrincipal used on a route without ProjectAccessGuard");
  return principal;
});

/** The project the `ProjectAccessGuard` authorized for this request. */
export const AuthorizedProject = createParamDecorator((_: unknown, context: ExecutionContext): Project => {
  const principal = context.switchToHttp().getRequest<AuthorizedRequest>().principal;
  if (!principal) throw new Error("AuthorizedProject used on a route without ProjectAccessGuard");
  return principal.project;
});

/** Refuses upload tokens on a route that needs the project's API key (listing uploads, minting tokens). */
export function requireApiKey(principal: Principal, action: string): void {
  if (principal.kind !== "apiKey") {
    throw new ApiError({
      code: "TOKEN_NOT_ALLOWED",
      message: `An upload token may not ${action}; that needs the project's API key.`,
    });
  }
}
