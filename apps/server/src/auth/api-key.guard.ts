import { Inject, Injectable, Optional, createParamDecorator, type CanActivate, type ExecutionContext } from "@nestjs/common";
import type { FastifyRequest } from "fastify";
import { ApiError } from "../errors/api-error";
import { AUTH_RESOLVER, PROJECT_DEFAULTS, type AuthResolver, type ProjectDefaults } from "./auth-resolver";
import { ProjectRegistry } from "./project-registry";
import { PROJECT_ID, type Project } from "./projects-file";

type AuthorizedRequest = FastifyRequest & { project?: Project };

/**
 * Lets a request through only with `Authorization: Bearer <key>` for a key allowed on the `:projectId` in its path.
 * 401 for a missing or unknown key, 404 for an unknown project, 403 for a key not allowed on it. Keys are never logged.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    @Inject(ProjectRegistry) private readonly registry: ProjectRegistry,
    @Optional() @Inject(AUTH_RESOLVER) private readonly resolver: AuthResolver | null = null,
    @Optional() @Inject(PROJECT_DEFAULTS) private readonly defaults: ProjectDefaults | null = null,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthorizedRequest>();
    const projectId = (request.params as { projectId?: string }).projectId ?? "";
    const project = this.resolver ? await this.resolve(request, projectId) : this.authorize(request, projectId);
    request.project = this.defaults ? { ...this.defaults, ...withoutUndefined(project), id: project.id } : project;
    return true;
  }

  private authorize(request: AuthorizedRequest, projectId: string): Project {
    const decision = this.registry.authorize(request.headers.authorization, projectId);
    if (!decision.ok) {
      throw new ApiError(
        decision.code === "PROJECT_NOT_FOUND"
          ? { code: decision.code, field: "projectId", message: `no project "${projectId}"` }
          : { code: decision.code },
      );
    }
    return decision.project;
  }

  /** The embedding app's own decision (see `AuthResolver`), held to the same rules as a projects file's entries. */
  private async resolve(request: AuthorizedRequest, projectId: string): Promise<Project> {
    const project = await this.resolver!({ projectId, headers: request.headers, raw: request });
    if (!project) throw new ApiError({ code: "UNAUTHORIZED" });
    // The project id becomes part of storage keys: a resolver answering another project (or an unsafe id) is refused
    // rather than trusted with another project's prefix.
    if (project.id !== projectId || !PROJECT_ID.test(project.id)) throw new ApiError({ code: "FORBIDDEN" });
    return project;
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The project the `ApiKeyGuard` authorized for this request. */
export const AuthorizedProject = createParamDecorator((_: unknown, context: ExecutionContext): Project => {
  const project = context.switchToHttp().getRequest<AuthorizedRequest>().project;
  if (!project) throw new Error("AuthorizedProject used on a route without ApiKeyGuard");
  return project;
});
