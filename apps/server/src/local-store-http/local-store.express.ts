import type { IncomingMessage, ServerResponse } from "node:http";
import { errorEnvelope } from "@upload-gateway/contract";
import { sendReply } from "../http/platform-reply";
import type { ServedStore } from "../storage/served-store";
import { SERVED_PATHS } from "../storage/served-urls";
import { clientGone, timedStoreBody, type StoreRequest } from "./local-store.handlers";
import { restParam, STORE_ROUTES, type StoreMethod } from "./local-store.routes";

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
export type ExpressRoutes = Record<Lowercase<StoreMethod>, (path: string, handler: Handler) => unknown> & {
  use(path: string, handler: ErrorHandler): unknown;
};

/**
 * The embedded store's routes (local-store.routes.ts) on Express 5, under `prefix`. Registered before Nest installs
 * its body parsers (see LocalStoreHttpModule), so that no parser reads a part's body, whatever its Content-Type.
 * Express 5's paths have the routes' own syntax (`:name`, `*name`).
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
  for (const route of STORE_ROUTES) {
    // A splat parameter is the list of the path's decoded segments in Express 5.
    const rest = restParam(route.path);
    const paramsOf = (request: ExpressRequest) =>
      Object.fromEntries(
        Object.entries(request.params).map(([name, value]) => [name, name === rest ? [value].flat().join("/") : value]),
      ) as Record<string, string>;
    for (const method of route.methods) {
      app[method.toLowerCase() as Lowercase<StoreMethod>](
        `${prefix}/${route.path.join("/")}`,
        async (request, response) => {
          await sendReply(response, await route.handle(storage, storeRequest(request, response), paramsOf(request)));
        },
      );
    }
  }
  // What fails before a handler runs (a path segment that is not valid percent-encoding) answers in the envelope too.
  app.use(`${prefix}/${SERVED_PATHS.any[0]}`, (error, _request, response, next) => {
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
