import { errorEnvelope } from "@upload-gateway/contract";
import type { FastifyInstance } from "fastify";
import FindMyWay, { type HTTPMethod } from "find-my-way";

/** Routes that match every path (the demo page's fallback) say nothing about which methods a path supports. */
const CATCH_ALL = new Set(["*", "/*"]);

/**
 * Answers a request whose method no route of its path has with 405 and an `Allow` header listing the methods that
 * path does have, instead of a 404 that says the path does not exist. A mirror of the routes in find-my-way, the
 * router Fastify itself uses, so that "the path exists" means exactly what Fastify's routing means.
 */
export function registerMethodNotAllowed(app: FastifyInstance): void {
  const { maxParamLength, caseSensitive, ignoreTrailingSlash, ignoreDuplicateSlashes } =
    app.initialConfig.routerOptions ?? {};
  const mirror = FindMyWay({ maxParamLength, caseSensitive, ignoreTrailingSlash, ignoreDuplicateSlashes });
  const methods = new Set<HTTPMethod>();
  const noop = () => undefined;

  app.addHook("onRoute", (route) => {
    if (CATCH_ALL.has(route.url ?? route.path)) return;
    for (const method of [route.method].flat().map((m) => m.toUpperCase() as HTTPMethod)) {
      methods.add(method);
      mirror.on(method, route.url ?? route.path, noop);
    }
  });

  app.addHook("onRequest", async (request, reply) => {
    // A CORS preflight is the CORS hook's to answer (or refuse), whatever the path's methods.
    if (!request.is404 || (request.method === "OPTIONS" && request.headers["access-control-request-method"])) return;
    const path = request.url.split("?")[0] ?? "/";
    const allowed = [...methods].filter((method) => method !== request.method && mirror.find(method, path)).sort();
    if (allowed.length === 0) return;
    const envelope = errorEnvelope([
      {
        code: "METHOD_NOT_ALLOWED",
        message: `${request.method} is not allowed on ${path}; allowed: ${allowed.join(", ")}.`,
      },
    ]);
    return reply
      .status(405)
      .header("allow", allowed.join(", "))
      .header("content-type", "application/json; charset=utf-8")
      .send(envelope);
  });
}
