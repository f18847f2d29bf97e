import { request as httpRequest, createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface PathProxy {
  /** The proxy's origin, e.g. `http://127.0.0.1:41234`; the gateway is at `${origin}${prefix}/`. */
  origin: string;
  /** Where requests under the prefix go (set once the gateway runs, since the gateway must know the proxy's URL). */
  target: string | undefined;
  /**
   * Picks requests (method, path after the prefix) whose replies the proxy holds back: they reach the target, which
   * answers, and the client gets nothing until `release()`, as over a slow return path.
   */
  holdReplies: ((method: string, path: string) => boolean) | undefined;
  /** Paths of the held requests that the target has answered. */
  answered: string[];
  /** Sends every held reply on, and holds no more. */
  release(): void;
  close(): Promise<void>;
}

/**
 * A path-routing reverse proxy on loopback, as nginx's `location /media/ { proxy_pass http://gateway/; }`: requests
 * under `prefix` go to the target with the prefix stripped (the Host header kept); anything else is 404 here.
 */
export async function startPathProxy(prefix: string): Promise<PathProxy> {
  const held: (() => void)[] = [];
  const proxy: PathProxy = {
    origin: "",
    target: undefined,
    holdReplies: undefined,
    answered: [],
    release() {
      proxy.holdReplies = undefined;
      for (const send of held.splice(0)) send();
    },
    close: () => Promise.resolve(),
  };
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
        const send = () => {
          outgoing.writeHead(reply.statusCode ?? 502, reply.headers);
          reply.pipe(outgoing);
        };
        const path = url.slice(prefix.length);
        if (!proxy.holdReplies?.(incoming.method ?? "GET", path)) return send();
        proxy.answered.push(path);
        held.push(send);
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
