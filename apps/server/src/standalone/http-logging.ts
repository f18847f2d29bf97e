import { createRequire } from "node:module";
import type * as Fastify from "fastify";
import type { FastifyInstance, FastifyServerOptions, LogController } from "fastify";
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
    logController: new (platformLogController())({ requestIdLogLabel: "requestId", disableRequestLogging: true }),
  };
}

/**
 * Fastify's `LogController` from the copy of Fastify that Nest's platform creates the instance with: Fastify checks
 * the option with `instanceof`, and the platform pins its own Fastify version, so another copy installed beside it
 * (npm nests the platform's when the app's differs) would be refused at start.
 */
function platformLogController(): typeof LogController {
  const platform = createRequire(createRequire(__filename).resolve("@nestjs/platform-fastify"));
  return (platform("fastify") as typeof Fastify).LogController;
}

/** Hooks on the root instance, before any route: request context, request id echo, access line. */
export function registerHttpLogging(fastify: FastifyInstance): void {
  registerRequestContext(fastify);
  registerAccessLog(fastify);
}
