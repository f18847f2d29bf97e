import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Transform } from "node:stream";

/** What the proxy does to one part PUT. */
export type Fault = "pass" | "reset" | "503" | "stall" | "403" | "wrong-etag" | "lost-reply" | "corrupt";

export interface FaultProxy {
  url: string;
  /** Part PUTs seen, in order: `partNumber`, what was done, the store's status, and the Content-MD5 sent. */
  log: {
    partNumber: number;
    fault: Fault;
    status?: number;
    contentMd5?: string;
    contentType?: string;
    ifNoneMatch?: string;
    acl?: string;
  }[];
  /** Other requests seen (API calls, when the proxy is in front of the gateway), in order. */
  requests: { method: string; path: string; fault: Fault }[];
  /** Forgets the logs and the attempts counted so far (for the next upload through the same proxy). */
  reset(): void;
  close(): Promise<void>;
}

/** What the proxy does to a request that is not a part PUT; it passes when there is no such function. */
export type DecideOther = (method: string, path: string, attempt: number) => Fault;

/**
 * An HTTP proxy on loopback in front of the store (RGW or the gateway's embedded store) that injects faults into
 * part uploads: connection resets, 503s with Retry-After, a part that stalls, a refused (403) URL, and a wrong ETag
 * in a reply, a reply lost after the store took the part, and a part with one byte flipped on the way. `decide` is
 * asked for every part PUT; other requests pass through, or are asked of `decideOther` (in front of the gateway: a
 * start whose reply is lost). The Host header is kept, so presigned URLs signed for the proxy's address stay valid.
 */
export async function startFaultProxy(
  target: string,
  decide: (partNumber: number, attempt: number) => Fault,
  decideOther?: DecideOther,
): Promise<FaultProxy> {
  const upstream = new URL(target);
  const attempts = new Map<number, number>();
  const otherAttempts = new Map<string, number>();
  const log: FaultProxy["log"] = [];
  const requests: FaultProxy["requests"] = [];
  const sockets = new Set<Socket>();

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://proxy");
    const partNumber = req.method === "PUT" ? partOf(url) : undefined;
    let fault: Fault;
    if (partNumber === undefined) {
      if (!decideOther) return forward(req, res);
      const method = req.method ?? "GET";
      const attempt = (otherAttempts.get(`${method} ${url.pathname}`) ?? 0) + 1;
      otherAttempts.set(`${method} ${url.pathname}`, attempt);
      fault = decideOther(method, url.pathname, attempt);
      requests.push({ method, path: url.pathname, fault });
    } else {
      const attempt = (attempts.get(partNumber) ?? 0) + 1;
      attempts.set(partNumber, attempt);
      fault = decide(partNumber, attempt);
      const entry: FaultProxy["log"][number] = { partNumber, fault };
      const contentMd5 = req.headers["content-md5"];
      if (typeof contentMd5 === "string") entry.contentMd5 = contentMd5;
      const contentType = req.headers["content-type"];
      if (typeof contentType === "string") entry.contentType = contentType;
      const ifNoneMatch = req.headers["if-none-match"];
      if (typeof ifNoneMatch === "string") entry.ifNoneMatch = ifNoneMatch;
      const acl = req.headers["x-amz-acl"];
      if (typeof acl === "string") entry.acl = acl;
      log.push(entry);
      res.on("finish", () => (entry.status = res.statusCode));
    }
    switch (fault) {
      case "reset":
        // Take some of the body, then drop the connection without an answer.
        req.once("data", () => req.socket.destroy());
        return;
      case "503":
        req.resume();
        req.on("end", () => res.writeHead(503, { "retry-after": "0", "content-type": "text/plain" }).end("slow down"));
        return;
      case "403":
        req.resume();
        req.on("end", () => res.writeHead(403, { "content-type": "text/plain" }).end("expired"));
        return;
      case "stall":
        req.pause(); // accept the connection and never read or answer
        return;
      case "wrong-etag":
        return forward(req, res, '"00000000000000000000000000000000"');
      case "corrupt":
        return forward(req, res, undefined, false, true);
      case "lost-reply":
        // The store takes the part, but its answer never reaches the client.
        return forward(req, res, undefined, true);
      case "pass":
        return forward(req, res);
    }
  });
  // Idle client sockets must never be closed by the proxy first: Node's 5 s default races undici's 4 s keep-alive
  // (its timers are coarse), and under load a part PUT sent on a socket the proxy is closing fails with "other side
  // closed" without reaching the proxy, an injected fault nobody asked for. Fastify's default is 72 s; go past it.
  server.keepAliveTimeout = 75_000;
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    eTagOverride?: string,
    dropReply = false,
    flipByte = false,
  ) {
    const out = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (reply) => {
        if (dropReply) {
          reply.resume();
          reply.on("end", () => req.socket.destroy());
          return;
        }
        const headers = { ...reply.headers };
        if (eTagOverride && headers.etag) headers.etag = eTagOverride;
        res.writeHead(reply.statusCode ?? 502, headers);
        reply.pipe(res);
      },
    );
    out.on("error", () => res.destroy());
    if (!flipByte) {
      req.pipe(out);
      return;
    }
    let flipped = false;
    const corrupt = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        if (!flipped && chunk.length > 0) {
          chunk = Buffer.from(chunk);
          chunk[0] = chunk[0]! ^ 0xff;
          flipped = true;
        }
        callback(null, chunk);
      },
    });
    req.pipe(corrupt).pipe(out);
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    requests,
    reset: () => {
      log.length = 0;
      requests.length = 0;
      attempts.clear();
      otherAttempts.clear();
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * The part number of a part PUT to S3 (`?partNumber=N`) or to the embedded store (`/parts/N`); a single PUT of a whole
 * file (S3 `PutObject`, the embedded store's `/storage/objects/…`) counts as part 1.
 */
export function partOf(url: URL): number | undefined {
  if (url.searchParams.get("x-id") === "PutObject" || url.pathname.startsWith("/storage/objects/")) return 1;
  const fromQuery = url.searchParams.get("partNumber");
  const fromPath = /\/parts\/(\d+)$/.exec(url.pathname)?.[1];
  const value = fromQuery ?? fromPath;
  return value ? Number(value) : undefined;
}

/**
 * A fault proxy's `decide` from a table of each part's faults, one per attempt, then "pass". The table is read at
 * each attempt, so a test may swap it between uploads.
 */
export function faultsByAttempt(
  table: () => Readonly<Record<number, readonly Fault[]>>,
): (partNumber: number, attempt: number) => Fault {
  return (partNumber, attempt) => table()[partNumber]?.[attempt - 1] ?? "pass";
}
