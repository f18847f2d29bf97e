import { connect } from "node:net";

export interface RawReply {
  /** The status of the first reply on the connection, or undefined when none came. */
  status: number | undefined;
  headers: Record<string, string>;
  /** The first reply's body parsed as JSON, or its text when it is not JSON. */
  body: any;
  /** Whether the server closed the connection (rather than us, at `timeoutMs`). */
  closedByServer: boolean;
  /** Milliseconds from the first byte sent to the connection's end. */
  elapsedMs: number;
}

export interface RawOptions {
  /** Bytes sent after `head`, one chunk every `everyMs`. */
  trickle?: { chunk: string | Buffer; everyMs: number; count: number };
  /** Bytes sent once the trickle is over. */
  tail?: string | Buffer;
  /** Destroy the socket after this many ms, as a client that gives up does. */
  destroyAfterMs?: number;
  /** Give up waiting for the server after this many ms. */
  timeoutMs?: number;
}

/**
 * Sends bytes on a fresh TCP connection and reads the first reply, for what `inject()` cannot express: broken HTTP,
 * bodies that stall or trickle, clients that hang up.
 */
export function rawRequest(port: number, head: string | Buffer, options: RawOptions = {}): Promise<RawReply> {
  const { trickle, tail, destroyAfterMs, timeoutMs = 10_000 } = options;
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const started = Date.now();
    let closedByServer = true;
    const timers: NodeJS.Timeout[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => undefined); // a reset after the reply is what some cuts look like
    socket.on("close", () => {
      timers.forEach(clearTimeout);
      resolve({ ...parseReply(Buffer.concat(chunks)), closedByServer, elapsedMs: Date.now() - started });
    });
    socket.write(head);
    if (trickle) {
      for (let i = 1; i <= trickle.count; i++) {
        timers.push(setTimeout(() => socket.writable && socket.write(trickle.chunk), i * trickle.everyMs));
      }
    }
    if (tail !== undefined) {
      timers.push(
        setTimeout(() => socket.writable && socket.write(tail), ((trickle?.count ?? 0) + 1) * (trickle?.everyMs ?? 0)),
      );
    }
    if (destroyAfterMs !== undefined)
      timers.push(setTimeout(() => ((closedByServer = false), socket.destroy()), destroyAfterMs));
    timers.push(setTimeout(() => ((closedByServer = false), socket.destroy()), timeoutMs));
  });
}

function parseReply(bytes: Buffer): Pick<RawReply, "status" | "headers" | "body"> {
  const text = bytes.toString("utf8");
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return { status: undefined, headers: {}, body: undefined };
  const [statusLine = "", ...lines] = text.slice(0, end).split("\r\n");
  // An interim reply (`100 Continue` to `Expect: 100-continue`) comes before the real one: read past it.
  if (/^HTTP\/1\.[01] 1\d\d /.test(statusLine) && !statusLine.includes(" 101 ")) {
    return parseReply(bytes.subarray(Buffer.byteLength(text.slice(0, end + 4))));
  }
  const headers = Object.fromEntries(
    lines.map((line) => [
      line.slice(0, line.indexOf(":")).trim().toLowerCase(),
      line.slice(line.indexOf(":") + 1).trim(),
    ]),
  );
  const length = headers["content-length"] === undefined ? undefined : Number(headers["content-length"]);
  const rawBody = bytes.subarray(Buffer.byteLength(text.slice(0, end + 4)));
  const bodyText = (length === undefined ? rawBody : rawBody.subarray(0, length)).toString("utf8");
  let body: unknown = bodyText;
  try {
    body = JSON.parse(bodyText);
  } catch {
    // not JSON: keep the text
  }
  return { status: Number(statusLine.split(" ")[1]), headers, body };
}
