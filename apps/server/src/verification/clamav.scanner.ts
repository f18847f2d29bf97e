import { connect, type Socket } from "node:net";
import type { AppConfig } from "../config/app-config";
import type { ByteSource } from "./byte-source";
import type { ContentScanner, ScanResult } from "./scanner";

export interface ClamavScannerOptions {
  /** clamd's TCP address (`CLAMD_URL=tcp://host:port`). */
  host: string;
  port: number;
  /** The longest a scan takes, connecting, sending and clamd's answer included (default 60 s). */
  timeoutMs?: number;
  /**
   * clamd's `StreamMaxLength` (default 25 MiB, clamd's own default): a larger object is not sent (clamd would cut the
   * stream and answer an error) and gets an `error` verdict saying so.
   */
  maxStreamBytes?: number;
  /** Bytes per ranged read and per INSTREAM chunk (default 1 MiB): the memory a scan holds. */
  chunkBytes?: number;
}

export const DEFAULT_CLAMD_TIMEOUT_MS = 60_000;
export const DEFAULT_CLAMD_STREAM_MAX_BYTES = 25 * 1024 * 1024;

/**
 * ClamAV through clamd's `INSTREAM` command over TCP: the object is read in chunks by ranged reads and streamed, each
 * chunk as a 4-byte big-endian length and its bytes, then a zero length; clamd answers `stream: OK` or
 * `stream: <signature> FOUND`. One connection per scan; the socket's backpressure paces the reads, so a scan holds one
 * chunk in memory whatever the object's size.
 */
export function clamavScanner(options: ClamavScannerOptions): ContentScanner {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CLAMD_TIMEOUT_MS;
  const maxStreamBytes = options.maxStreamBytes ?? DEFAULT_CLAMD_STREAM_MAX_BYTES;
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  const where = `clamd at ${options.host}:${options.port}`;
  return {
    name: "clamav",
    async scan(target) {
      if (target.size > maxStreamBytes) {
        return error(
          `the object (${target.size} bytes) is larger than clamd's StreamMaxLength (${maxStreamBytes} bytes)`,
        );
      }
      let socket: Socket | undefined;
      let timer: NodeJS.Timeout | undefined;
      try {
        socket = connect({ host: options.host, port: options.port });
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${where} did not answer within ${timeoutMs} ms`)), timeoutMs);
        });
        return await Promise.race([instream(socket, target, chunkBytes, where), deadline]);
      } catch (failure) {
        return error((failure as Error).message);
      } finally {
        clearTimeout(timer);
        socket?.destroy();
      }
    },
  };
}

/** The ClamAV scanner the configuration asks for (`CLAMD_URL`), or `undefined` when it asks for none. */
export function clamavScannerFromConfig(config: AppConfig): ContentScanner | undefined {
  if (!config.CLAMD_URL) return undefined;
  return clamavScanner({
    ...config.CLAMD_URL,
    timeoutMs: config.CLAMD_TIMEOUT_SECONDS * 1000,
    maxStreamBytes: config.CLAMD_STREAM_MAX_BYTES,
  });
}

/** Sends `target` by INSTREAM on `socket` and reads clamd's answer. */
async function instream(socket: Socket, target: ByteSource, chunkBytes: number, where: string): Promise<ScanResult> {
  const answer = readAnswer(socket, where);
  answer.catch(() => {}); // observed below; a write failing first must not leave it unhandled
  // Errors after the connection is made (EPIPE, ECONNRESET) surface through the writes and the answer; the first is
  // kept, as a write after a reset fails only with "stream destroyed".
  let socketError: Error | undefined;
  socket.on("error", (failure) => (socketError ??= failure));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", (failure) => reject(new Error(`${where} is unreachable: ${failure.message}`)));
  });
  let offset = 0;
  try {
    await write(socket, Buffer.from("zINSTREAM\0"));
    while (offset < target.size) {
      const chunk = await target.read(offset, Math.min(chunkBytes, target.size - offset));
      if (chunk.length === 0) throw new Error(`the object ended at ${offset} of its ${target.size} bytes`);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(chunk.length);
      await write(socket, length);
      await write(socket, chunk);
      offset += chunk.length;
    }
    await write(socket, Buffer.alloc(4)); // a zero length ends the stream
  } catch (failure) {
    // clamd may have answered (a size limit) and closed before it took everything: its answer says more.
    const early = await Promise.race([
      answer,
      new Promise<undefined>((resolve) => setTimeout(resolve, 100, undefined)),
    ]).catch(() => undefined);
    if (early) return early;
    throw closedMidStream(socketError ?? failure, offset, target.size, where);
  }
  return answer;
}

/**
 * A write refused because clamd closed the connection. clamd closes when a stream passes its StreamMaxLength, after
 * answering; but Node destroys the socket on the refused write before reading that answer when both arrive together,
 * so the answer is lost to a race: say what most likely happened rather than a bare `write EPIPE`.
 */
function closedMidStream(failure: unknown, sent: number, size: number, where: string): unknown {
  const code = (failure as NodeJS.ErrnoException | undefined)?.code;
  if (code !== "EPIPE" && code !== "ECONNRESET") return failure;
  return new Error(
    `${where} closed the connection with ${sent} of the object's ${size} bytes sent (${code}), as it does when a stream ` +
      "exceeds its StreamMaxLength: the scanner's limit (CLAMD_STREAM_MAX_BYTES) must not be larger than clamd's",
  );
}

/** clamd's answer: one line ending in NUL (`z` commands), read until it ends or clamd closes. */
function readAnswer(socket: Socket, where: string): Promise<ScanResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = () => {
      const text = Buffer.concat(chunks).toString("utf8").replace(/\0.*$/s, "").trim();
      if (text === "") return reject(new Error(`${where} closed the connection without an answer`));
      resolve(parseAnswer(text));
    };
    socket.on("data", (data: Buffer) => {
      chunks.push(data);
      length += data.length;
      if (data.includes(0) || length > 64 * 1024) {
        socket.removeAllListeners("end");
        finish();
      }
    });
    socket.once("end", finish);
    socket.once("close", () => reject(new Error(`${where} closed the connection without an answer`)));
  });
}

/** `stream: OK`, `stream: <signature> FOUND`, or `<message> ERROR`. */
export function parseAnswer(text: string): ScanResult {
  const body = text.replace(/^stream:\s*/, "");
  if (body === "OK") return { verdict: "clean" };
  const found = /^(.+) FOUND$/.exec(body);
  if (found) return { verdict: "infected", signature: found[1]!.slice(0, 200) };
  return error(`clamd answered: ${body.replace(/\s*ERROR$/, "").slice(0, 200)}`);
}

function write(socket: Socket, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.write(bytes, (failure) => (failure ? reject(failure) : resolve()));
  });
}

function error(message: string): ScanResult {
  return { verdict: "error", message };
}
