import type { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type {} from "@fastify/compress"; // its route option `compress`
import { sendReply } from "../http/platform-reply";
import type { ServedStore } from "../storage/served-store";
import { clientGone, timedStoreBody, type StoreRequest } from "./local-store.handlers";
import { restParam, STORE_ROUTES } from "./local-store.routes";

/**
 * The embedded store's routes (local-store.routes.ts) on Fastify, in their own Fastify scope so that their raw-body
 * handling does not touch the JSON API. Bodies are streamed (`streamedBody`: only the idle timeout applies) and never
 * compressed: objects are served byte for byte, as S3 does.
 */
export function localStoreFastifyRoutes(storage: ServedStore, idleMs: number) {
  return function routes(app: FastifyInstance, _options: unknown, done: () => void): void {
    // Part bodies are raw bytes of any type: take the stream as it is, whatever the Content-Type.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", (_request, payload, done) => done(null, payload));

    for (const route of STORE_ROUTES) {
      // Fastify names the rest of a path `*`: a route's `*name` segment.
      const rest = restParam(route.path);
      app.route<{ Params: Record<string, string> }>({
        method: [...route.methods],
        url: `/${route.path.map((segment) => (segment.startsWith("*") ? "*" : segment)).join("/")}`,
        compress: false,
        ...(route.body ? { config: { streamedBody: true } } : {}),
        handler: (request, reply) => {
          const { "*": splat = "", ...params } = request.params;
          const named = rest === undefined ? params : { ...params, [rest]: splat };
          return route
            .handle(storage, storeRequest(request, reply, idleMs), named)
            .then((answered) => sendReply(reply, answered));
        },
      });
    }
    done();
  };
}

function storeRequest(request: FastifyRequest, reply: FastifyReply, idleMs: number): StoreRequest {
  return {
    method: request.method,
    headers: request.headers,
    query: request.query as StoreRequest["query"],
    // The body as the content type parser above passed it: through the standalone server's body timeouts, if any.
    body: timedStoreBody(request.raw, reply.raw, (request.body as Readable | undefined) ?? request.raw, idleMs),
    aborted: () => clientGone(request.raw, reply.raw),
  };
}
