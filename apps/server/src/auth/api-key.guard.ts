import { Inject, Injectable, createParamDecorator, type CanActivate, type ExecutionContext } from "@nestjs/common";
import type { FastifyRequest } from "fastify";
import { ApiError } from "../errors/api-error";
import { ProjectRegistry } from "./project-registry";
import type { Project } from "./projects-file";

type AuthorizedRequest = FastifyRequest & { project?: Project };

/**
 * Lets a request through only with `Authorization: Bearer <key>` for a key allowed on the `:projectId` in its path.
 * 401 for a missing or unknown key, 404 for an unknown project, 403 for a key not allowed on it. Keys are never logged.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(@Inject(ProjectRegistry) private readonly registry: ProjectRegistry) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<AuthorizedRequest>();
    const projectId = (request.params as { projectId?: string }).projectId ?? "";
    const decision = this.registry.authorize(request.headers.authorization, projectId);
    if (!decision.ok) {
      throw new ApiError(
        decision.code === "PROJECT_NOT_FOUND"
          ? { code: decision.code, field: "projectId", message: `no project "${projectId}"` }
          : { code: decision.code },
      );
    }
    request.project = decision.project;
    return true;
  }
}

/** The project the `ApiKeyGuard` authorized for this request. */
export const AuthorizedProject = createParamDecorator((_: unknown, context: ExecutionContext): Project => {
  const project = context.switchToHttp().getRequest<AuthorizedRequest>().project;
  if (!project) throw new Error("AuthorizedProject used on a route without ApiKeyGuard");
  return project;
});
