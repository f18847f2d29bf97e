import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { sendReply } from "../../src/http/platform-reply";
import {
  clientGone,
  getObject,
  preflight,
  putObject,
  putPart,
  timedStoreBody,
  type StoreRequest,
} from "../../src/local-store-http/local-store.handlers";
import { MemoryStorage, type MemoryStorageOptions } from "../../src/storage/memory.storage";

const PART_PATH = /^\/storage\/uploads\/([^/]+)\/parts\/([^/]+)$/;
const OBJECT_PATH = /^\/storage\/objects\/(.+)$/;

/**
 * An in-memory store whose signed URLs work: a plain Node HTTP server on a free loopback port routes them to the
 * embedded store's handlers (local-store-http), as the gateway's own routes do for the embedded store.
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
    const part = PART_PATH.exec(url.pathname);
    const object = OBJECT_PATH.exec(url.pathname);
    const key = object ? object[1]!.split("/").map(decodeURIComponent).join("/") : "";
    const reply =
      request.method === "OPTIONS"
        ? preflight()
        : request.method === "PUT" && part
          ? putPart(storage, storeRequest, { uploadId: part[1]!, partNumber: part[2]! })
          : request.method === "PUT" && object
            ? putObject(storage, storeRequest, key)
            : (request.method === "GET" || request.method === "HEAD") && object
              ? getObject(storage, storeRequest, key)
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
