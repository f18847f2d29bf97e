import type { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type {} from "@fastify/compress"; // its route option `compress`
import { sendReply } from "../http/platform-reply";
import type { LocalStorage } from "../storage/local.storage";
import {
  clientGone,
  getObject,
  preflight,
  putObject,
  putPart,
  timedStoreBody,
  type StoreRequest,
} from "./local-store.handlers";

/**
 * The embedded store's routes on Fastify (the handlers are local-store.handlers.ts), in their own Fastify scope so
 * that their raw-body handling does not touch the JSON API. Bodies are streamed (`streamedBody`: only the idle
 * timeout applies) and never compressed: objects are served byte for byte, as S3 does.
 */
export function localStoreFastifyRoutes(storage: LocalStorage, idleMs: number) {
  return function routes(app: FastifyInstance, _options: unknown, done: () => void): void {
    // Part bodies are raw bytes of any type: take the stream as it is, whatever the Content-Type.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", (_request, payload, done) => done(null, payload));

    const answer = (reply: FastifyReply) => (answered: Parameters<typeof sendReply>[1]) => sendReply(reply, answered);
    app.options("/storage/*", (_request, reply) => preflight().then(answer(reply)));
    const streamed = { compress: false, config: { streamedBody: true } } as const;
    app.put<{ Params: { uploadId: string; partNumber: string } }>(
      "/storage/uploads/:uploadId/parts/:partNumber",
      streamed,
      (request, reply) => putPart(storage, storeRequest(request, reply, idleMs), request.params).then(answer(reply)),
    );
    app.put<{ Params: { "*": string } }>("/storage/objects/*", streamed, (request, reply) =>
      putObject(storage, storeRequest(request, reply, idleMs), request.params["*"]).then(answer(reply)),
    );
    app.route<{ Params: { "*": string } }>({
      method: ["GET", "HEAD"],
      url: "/storage/objects/*",
      compress: false,
      handler: (request, reply) =>
        getObject(storage, storeRequest(request, reply, idleMs), request.params["*"]).then(answer(reply)),
    });
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
