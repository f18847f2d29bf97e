import { createServer, request, type Server } from "node:http";

export interface RoundRobinProxy {
  url: string;
  /** Which backend (its index) answered each request so far, in order. */
  served: number[];
  close(): Promise<void>;
}

/**
 * A minimal load balancer on loopback: each request goes to the next backend in turn, whole (method, path, headers,
 * body), and its reply comes back with an `X-Replica` header naming the backend's index.
 */
export async function startRoundRobinProxy(backends: string[]): Promise<RoundRobinProxy> {
  const served: number[] = [];
  let next = 0;
  const server: Server = createServer((incoming, outgoing) => {
    const index = next++ % backends.length;
    served.push(index);
    const target = new URL(incoming.url ?? "/", backends[index]);
    const upstream = request(
      target,
      { method: incoming.method, headers: { ...incoming.headers, host: target.host } },
      (reply) => {
        outgoing.writeHead(reply.statusCode ?? 502, { ...reply.headers, "x-replica": String(index) });
        reply.pipe(outgoing);
      },
    );
    upstream.on("error", (error) => {
      outgoing.writeHead(502, { "content-type": "text/plain" });
      outgoing.end(`proxy: ${error.message}`);
    });
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
