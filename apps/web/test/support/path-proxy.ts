import { request as httpRequest, createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface PathProxy {
  /** The proxy's origin, e.g. `http://127.0.0.1:41234`; the gateway is at `${origin}${prefix}/`. */
  origin: string;
  /** Where requests under the prefix go (set once the gateway runs, since the gateway must know the proxy's URL). */
  target: string | undefined;
  close(): Promise<void>;
}

/**
 * A path-routing reverse proxy on loopback, as nginx's `location /media/ { proxy_pass http://gateway/; }`: requests
 * under `prefix` go to the target with the prefix stripped (the Host header kept); anything else is 404 here.
 */
export async function startPathProxy(prefix: string): Promise<PathProxy> {
  const proxy: PathProxy = { origin: "", target: undefined, close: () => Promise.resolve() };
  const server: Server = createServer((incoming, outgoing) => {
    const url = incoming.url ?? "/";
    if (url === prefix) {
      outgoing.writeHead(301, { location: `${prefix}/` }).end();
      return;
    }
    if (!url.startsWith(`${prefix}/`) || !proxy.target) {
      outgoing.writeHead(404, { "content-type": "text/plain" }).end("not routed by the proxy");
      return;
    }
    const upstream = httpRequest(
      new URL(url.slice(prefix.length), proxy.target),
      { method: incoming.method, headers: incoming.headers },
      (reply) => {
        outgoing.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(outgoing);
      },
    );
    upstream.on("error", () => outgoing.destroy());
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
