import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { sendReply } from "../../src/http/platform-reply";
import { clientGone, timedStoreBody, type StoreRequest } from "../../src/local-store-http/local-store.handlers";
import { STORE_ROUTES, type StoreMethod, type StoreRoute } from "../../src/local-store-http/local-store.routes";
import { MemoryStorage, type MemoryStorageOptions } from "../../src/storage/memory.storage";

/**
 * An in-memory store whose signed URLs work: a plain Node HTTP server on a free loopback port routes them to the
 * embedded store's routes (local-store-http's route table), as the gateway's own routes do for the embedded store.
 */
export async function servedMemoryStorage(options: Omit<MemoryStorageOptions, "publicUrl"> = {}): Promise<{
  storage: MemoryStorage;
  close(): Promise<void>;
}> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const storage = new MemoryStorage({ ...options, publicUrl: `http://127.0.0.1:${port}` });
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://store");
    const query: StoreRequest["query"] = {};
    for (const name of new Set(url.searchParams.keys())) {
      const values = url.searchParams.getAll(name);
      query[name] = values.length === 1 ? values[0] : values;
    }
    const storeRequest: StoreRequest = {
      method: request.method ?? "GET",
      headers: request.headers,
      query,
      body: timedStoreBody(request, response, request, 30_000),
      aborted: () => clientGone(request, response),
    };
    const matched = matchRoute(request.method ?? "GET", url.pathname);
    const reply = matched
      ? matched.route.handle(storage, storeRequest, matched.params)
      : Promise.resolve({ status: 404, headers: {} });
    void reply.then((answer) => sendReply(response, answer));
  });
  return {
    storage,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The first route of the table whose method and path match, and the path's decoded parameters. */
function matchRoute(
  method: string,
  pathname: string,
): { route: StoreRoute; params: Record<string, string> } | undefined {
  const segments = pathname.split("/").slice(1);
  for (const route of STORE_ROUTES) {
    if (!route.methods.includes(method as StoreMethod)) continue;
    const params: Record<string, string> = {};
    const matches = route.path.every((pattern, index) => {
      const segment = segments[index];
      if (pattern.startsWith("*")) {
        params[pattern.slice(1)] = segments.slice(index).map(decodeURIComponent).join("/");
        return params[pattern.slice(1)] !== "";
      }
      if (segment === undefined || segment === "") return false;
      if (pattern.startsWith(":")) params[pattern.slice(1)] = decodeURIComponent(segment);
      return pattern.startsWith(":") || pattern === segment;
    });
    if (matches && (route.path.at(-1)!.startsWith("*") || segments.length === route.path.length)) {
      return { route, params };
    }
  }
  return undefined;
}
