import { AsyncLocalStorage } from "node:async_hooks";
import type { FastifyInstance, FastifyRequest } from "fastify";

/**
 * The request being served, for code that has no handle on it (Nest's loggers, the storage decorator): their lines
 * then carry the request id, and a storage failure reaches the request's access line.
 */
const context = new AsyncLocalStorage<FastifyRequest>();

export function currentRequest(): FastifyRequest | undefined {
  return context.getStore();
}

/**
 * Enters the request's context on arrival, and again before the handler: a body is parsed in callbacks of the
 * socket's own async context, which would otherwise lose it (the same reason @fastify/request-context re-enters).
 */
export function registerRequestContext(fastify: FastifyInstance): void {
  fastify.addHook("onRequest", (request, _reply, done) => context.run(request, done));
  fastify.addHook("preHandler", (request, _reply, done) => context.run(request, done));
}
