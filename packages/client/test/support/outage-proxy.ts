import { createServer, request } from "node:http";
import type { ClientRequest, IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { partOf } from "./fault-proxy";

/** One part PUT that went through, and what the store answered (none when the outage cut it). */
export interface ProxiedPut {
  partNumber: number;
  status?: number;
}

/**
 * An HTTP proxy on loopback that a test can take down and bring back on the same port: down, it closes every
 * connection (requests in flight get no answer) and refuses new ones, as an unreachable store or gateway does.
 * It records each part PUT and the store's status, so a test can tell that no stored part was sent twice.
 */
export interface OutageProxy {
  url: string;
  puts: ProxiedPut[];
  /** PUTs the store answered with a success, per part number. */
  storedPuts(partNumber: number): number;
  /** PUTs of a part number, whatever became of them. */
  putsOf(partNumber: number): number;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startOutageProxy(target: string): Promise<OutageProxy> {
  const upstream = new URL(target);
  const puts: ProxiedPut[] = [];
  const sockets = new Set<Socket>();
  const outgoing = new Set<ClientRequest>();
  let port = 0;

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://proxy");
    // Clients' part PUTs only (presigned: no Authorization header), not the gateway's own writes to S3 through it.
    const partNumber = req.method === "PUT" && !req.headers.authorization ? partOf(url) : undefined;
    const entry: ProxiedPut | undefined = partNumber === undefined ? undefined : { partNumber };
    if (entry) puts.push(entry);
    const out = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (reply) => {
        if (entry) entry.status = reply.statusCode;
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    outgoing.add(out);
    out.on("close", () => outgoing.delete(out));
    out.on("error", () => res.destroy());
    req.pipe(out);
  };

  let server: Server | undefined;
  const listen = async () => {
    server = createServer(handler);
    server.keepAliveTimeout = 75_000;
    server.on("connection", (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    const listening = server;
    await new Promise<void>((resolve) => listening.listen(port, "127.0.0.1", resolve));
    port = (listening.address() as { port: number }).port;
  };
  const stop = async () => {
    const stopping = server;
    server = undefined;
    if (!stopping) return;
    // Cut what is in flight both ways: the client gets no answer, and the store gets no more of the body.
    for (const out of outgoing) out.destroy();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => stopping.close(() => resolve()));
  };
  await listen();

  return {
    url: `http://127.0.0.1:${port}`,
    puts,
    storedPuts: (n) => puts.filter((p) => p.partNumber === n && p.status !== undefined && p.status < 300).length,
    putsOf: (n) => puts.filter((p) => p.partNumber === n).length,
    down: stop,
    up: listen,
    close: stop,
  };
}
