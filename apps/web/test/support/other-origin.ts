import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface OtherOrigin {
  /** The origin, e.g. `http://127.0.0.1:41234`: same host as the gateway, another port, so another origin. */
  url: string;
  close(): Promise<void>;
}

/** A second web server on loopback serving one empty page: what someone else's web app is to the gateway. */
export async function startOtherOrigin(): Promise<OtherOrigin> {
  const server: Server = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end(
      '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Another app</title></head><body></body></html>',
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
