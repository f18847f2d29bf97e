import { errorEnvelope } from "@upload-gateway/contract";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { requestPath } from "../http/request-path";

/** Who may call the API from a web page: origins for every route, and more per project. */
export interface CorsPolicy {
  /** `CORS_ORIGINS`: exact origins allowed on every API route, or `"*"` for any origin. */
  origins: readonly string[] | "*";
  /** A project's own `allowedOrigins` (from `PROJECTS_FILE`), allowed on that project's routes only. */
  projectOrigins(projectId: string): readonly string[];
  /** The path the gateway is mounted under ("" at the root): its routes are `<prefix>/api/...`. */
  prefix?: string;
}

// What the API's routes use and read. Credentials (cookies) are never allowed: the API key travels in Authorization.
const ALLOW_METHODS = "GET, POST, PUT";
const ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-Id";
const EXPOSE_HEADERS = "Retry-After, X-Request-Id, ETag";
// Chromium caps a preflight's cache at two hours; asking more gains nothing there.
const MAX_AGE_SECONDS = "7200";

/**
 * CORS on the API's routes (`/api/...` in any spelling, see request-path.ts; the embedded store's `/storage` routes
 * answer their own). A page on an allowed
 * origin gets `Access-Control-Allow-Origin` and the exposed headers; any other origin gets no CORS header at all, so its
 * browser withholds the reply. Preflights are answered here, before routing and authentication: they carry no
 * Authorization header, so a project's own origins are found from the project id in the path.
 */
export function registerCors(app: FastifyInstance, policy: CorsPolicy): void {
  app.addHook("onRequest", async (request, reply) => {
    if (requestPath(request).area !== "api") return;
    // The reply depends on Origin whenever it may carry CORS headers: caches must keep one copy per origin.
    addVary(reply, "Origin");
    const origin = request.headers.origin;
    if (origin === undefined) return; // not a cross-origin request from a browser
    const allowed = isAllowed(policy, origin, request);
    const preflight = request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined;
    if (preflight) {
      if (!allowed) {
        const body = errorEnvelope([
          {
            code: "FORBIDDEN",
            message: `Pages on ${origin} may not call this API (see CORS_ORIGINS and the project's allowedOrigins).`,
          },
        ]);
        return reply.status(body.statusCode).send(body);
      }
      return reply
        .status(204)
        .headers({
          "access-control-allow-origin": policy.origins === "*" ? "*" : origin,
          "access-control-allow-methods": ALLOW_METHODS,
          "access-control-allow-headers": ALLOW_HEADERS,
          "access-control-max-age": MAX_AGE_SECONDS,
        })
        .send();
    }
    if (allowed) {
      void reply.headers({
        "access-control-allow-origin": policy.origins === "*" ? "*" : origin,
        "access-control-expose-headers": EXPOSE_HEADERS,
      });
    }
  });
}

function isAllowed(policy: CorsPolicy, origin: string, request: FastifyRequest): boolean {
  if (policy.origins === "*" || policy.origins.includes(origin)) return true;
  const projectId = projectIdOf(request, policy.prefix ?? "");
  return projectId !== undefined && policy.projectOrigins(projectId).includes(origin);
}

/**
 * The project a request is for: the router's `:projectId` (decoded), else, for a preflight (which matches no route
 * of its own), the segment after `projects` in the normalized path.
 */
function projectIdOf(request: FastifyRequest, prefix: string): string | undefined {
  const routed = (request.params as { projectId?: unknown } | undefined)?.projectId;
  if (typeof routed === "string") return routed;
  const segments = requestPath(request).path.split("/").slice(prefix.split("/").length);
  return segments[0]?.toLowerCase() === "api" && segments[1] === "projects" ? segments[2] : undefined;
}

function addVary(reply: FastifyReply, field: string): void {
  const current = reply.getHeader("vary");
  const values = typeof current === "string" ? current.split(",").map((v) => v.trim()) : [];
  if (!values.some((v) => v.toLowerCase() === field.toLowerCase() || v === "*")) {
    void reply.header("vary", [...values.filter((v) => v !== ""), field].join(", "));
  }
}
