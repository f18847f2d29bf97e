import { LogController, type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { Logger } from "pino";
import { registerAccessLog } from "../observability/access-log";
import { registerRequestContext } from "../observability/request-context";
import { requestIdOf } from "../observability/request-id";

/**
 * Fastify's options for logging through `logger`: request ids from a valid `X-Request-Id` or generated, as
 * `requestId` on every line of the request; Fastify's two lines per request replaced by our one access line.
 */
export function httpLoggingOptions(logger: Logger): FastifyServerOptions {
  return {
    loggerInstance: logger,
    genReqId: requestIdOf,
    // Not Fastify's own header handling: it would take any value, unchecked.
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: "requestId", disableRequestLogging: true }),
  };
}

/** Hooks on the root instance, before any route: request context, request id echo, access line. */
export function registerHttpLogging(fastify: FastifyInstance): void {
  registerRequestContext(fastify);
  registerAccessLog(fastify);
}
