import type { FastifyInstance, FastifyRequest } from "fastify";
import { scrubSecrets } from "./redaction";
import { REQUEST_ID_HEADER } from "./request-id";

/** The failure behind a 5xx reply, kept until the access line is written (so the line carries its cause). */
const failures = new WeakMap<object, unknown>();

/** Attaches `error` to `request`'s access line. Called where failures become replies (the exception filter). */
export function noteFailure(request: FastifyRequest | object, error: unknown): void {
  failures.set(request, error);
}

/** The route pattern a request matched (`/api/projects/:projectId/uploads/multipart`), never the raw URL. */
export function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? "(unmatched)";
}

/**
 * Echoes the request id on every reply and writes one access line per request when the reply is done: method, route
 * pattern, status, duration, request id (the child logger's `requestId`), and for 5xx the failure with its cause.
 * Registered on the root instance before any route, so it also covers the embedded store's routes and 404s.
 */
export function registerAccessLog(fastify: FastifyInstance): void {
  fastify.addHook("onRequest", (request, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  fastify.addHook("onResponse", (request, reply, done) => {
    const status = reply.statusCode;
    const failure = failures.get(request);
    const line = {
      method: request.method,
      route: routeOf(request),
      url: scrubSecrets(request.url),
      status,
      durationMs: Math.round(reply.elapsedTime * 10) / 10,
      ip: request.ip,
      ...(failure === undefined ? {} : { err: failure }),
    };
    if (status >= 500) request.log.error(line, "request failed");
    else request.log.info(line, "request completed");
    done();
  });
}
