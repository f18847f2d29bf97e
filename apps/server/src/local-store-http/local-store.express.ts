import type { IncomingMessage, ServerResponse } from "node:http";
import { errorEnvelope } from "@upload-gateway/contract";
import { sendReply } from "../http/platform-reply";
import type { ServedStore } from "../storage/served-store";
import {
  clientGone,
  getObject,
  preflight,
  putObject,
  putPart,
  timedStoreBody,
  type StoreRequest,
} from "./local-store.handlers";

/** Express's request as the routes read it: a Node request with its path parameters and parsed query. */
type ExpressRequest = IncomingMessage & { params: Record<string, string | string[]>; query: StoreRequest["query"] };
type Handler = (request: ExpressRequest, response: ServerResponse) => Promise<void>;
type ErrorHandler = (
  error: unknown,
  request: ExpressRequest,
  response: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/** The part of an Express 5 application the routes are registered on. */
export interface ExpressRoutes {
  put(path: string, handler: Handler): unknown;
  get(path: string, handler: Handler): unknown;
  options(path: string, handler: Handler): unknown;
  use(path: string, handler: ErrorHandler): unknown;
}

/**
 * The embedded store's routes on Express 5 (the handlers are local-store.handlers.ts), under `prefix`. Registered
 * before Nest installs its body parsers (see LocalStoreHttpModule), so that no parser reads a part's body, whatever
 * its Content-Type. Express answers HEAD with the GET route.
 */
export function registerLocalStoreExpressRoutes(
  app: ExpressRoutes,
  storage: ServedStore,
  prefix: string,
  idleMs: number,
): void {
  const storeRequest = (request: ExpressRequest, response: ServerResponse): StoreRequest => ({
    method: request.method ?? "GET",
    headers: request.headers,
    query: request.query,
    body: timedStoreBody(request, response, request, idleMs),
    aborted: () => clientGone(request, response),
  });
  // A splat parameter is the list of the path's decoded segments in Express 5.
  const keyOf = (request: ExpressRequest) => [request.params.key ?? []].flat().join("/");

  app.options(`${prefix}/storage/*rest`, (_request, response) =>
    preflight().then((reply) => sendReply(response, reply)),
  );
  app.put(`${prefix}/storage/uploads/:uploadId/parts/:partNumber`, async (request, response) => {
    const { uploadId = "", partNumber = "" } = request.params as Record<string, string>;
    await sendReply(response, await putPart(storage, storeRequest(request, response), { uploadId, partNumber }));
  });
  app.put(`${prefix}/storage/objects/*key`, async (request, response) => {
    await sendReply(response, await putObject(storage, storeRequest(request, response), keyOf(request)));
  });
  app.get(`${prefix}/storage/objects/*key`, async (request, response) => {
    await sendReply(response, await getObject(storage, storeRequest(request, response), keyOf(request)));
  });
  // What fails before a handler runs (a path segment that is not valid percent-encoding) answers in the envelope too.
  app.use(`${prefix}/storage`, (error, _request, response, next) => {
    if (response.headersSent) return next(error);
    const status = (error as { status?: unknown }).status === 400 ? 400 : 500;
    const envelope = errorEnvelope([
      status === 400
        ? { code: "MALFORMED_REQUEST", message: "The URL's path is not valid percent-encoding." }
        : { code: "INTERNAL_ERROR" },
    ]);
    void sendReply(response, { status, headers: { connection: "close" }, body: envelope });
  });
}
