import { createHash } from "node:crypto";
import { openAsBlob } from "node:fs";
import { open } from "node:fs/promises";
import { Agent as HttpAgent, request as httpRequest, type ClientRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { basename } from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as NodeWebReadableStream } from "node:stream/web";
import { lookup } from "mime-types";
import { NetworkError } from "./errors";
import type { PartHasher } from "./part-hash";
import { ERROR_BODY_LIMIT, partHeaders, type PartTransport } from "./transport";
import { upload, type UploadOptions, type UploadTask } from "./uploader";

export * from "./index";

/** The size of each read from the file: large enough that per-chunk work (a read, a socket write, an MD5 update, a
 * progress call) costs little, small enough that a part in flight holds little memory (two of these). */
const FILE_CHUNK = 512 * 1024;

/**
 * Node's part transport: streams each part to `node:http(s)` with a known Content-Length (no buffering, no chunked
 * encoding), reports progress as bytes leave, hashes them on the way (so the ETag check needs no second read), and
 * reuses connections. With `path`, parts are read from the file directly into two reused 512 KiB buffers per part
 * (one being read while the other is written to the socket): no allocation per chunk, no stream machinery between
 * the disk and the socket, and at most 1 MiB of a part in memory.
 */
export function nodeHttpTransport(options: { maxSockets?: number; path?: string } = {}): PartTransport {
  const agents = {
    "http:": new HttpAgent({ keepAlive: true, maxSockets: options.maxSockets ?? 16 }),
    "https:": new HttpsAgent({ keepAlive: true, maxSockets: options.maxSockets ?? 16 }),
  };
  const chunksOf = (body: Blob, offset: number): AsyncIterable<Uint8Array> =>
    options.path ? readFileRange(options.path, offset, body.size) : Readable.fromWeb(body.stream() as NodeWebReadableStream<Uint8Array>);
  return {
    reportsProgress: true,
    hashesWhileSending: true,
    send(part) {
      const { url, body, offset, signal, onProgress } = part;
      return new Promise((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        const target = new URL(url);
        const send = target.protocol === "https:" ? httpsRequest : httpRequest;
        const request = send(target, {
          method: "PUT",
          agent: agents[target.protocol as "http:" | "https:"],
          headers: { "content-length": String(body.size), ...partHeaders(part) },
          signal,
        });
        let settled = false;
        const fail = (error: unknown) => {
          if (settled) return;
          settled = true;
          reject(signal.aborted ? signal.reason : new NetworkError(`The part upload got no answer: ${(error as Error).message}`, { cause: error }));
        };
        const md5 = createHash("md5");
        let sent = 0;
        request.on("response", (response) => {
          // Drain the (small) body so the socket is reused; keep the start of a refusal's body.
          const ok = (response.statusCode ?? 0) >= 200 && (response.statusCode ?? 0) < 300;
          let errorBody = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => {
            if (!ok && errorBody.length < ERROR_BODY_LIMIT) errorBody += chunk.slice(0, ERROR_BODY_LIMIT - errorBody.length);
          });
          response.on("end", () => {
            if (settled) return;
            settled = true;
            const header = (name: string) => {
              const value = response.headers[name];
              return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
            };
            resolve({
              status: response.statusCode ?? 0,
              eTag: header("etag"),
              retryAfter: header("retry-after"),
              // Only a complete body has a meaningful hash (a refused part may be answered before it is all sent).
              ...(sent === body.size ? { sentMd5: md5.digest("hex") } : {}),
              ...(ok ? {} : { errorBody }),
            });
          });
          response.on("error", fail);
        });
        request.on("error", fail);
        writeBody(request, chunksOf(body, offset), (chunk) => {
          sent += chunk.length;
          md5.update(chunk);
          onProgress?.(sent);
        }).catch((error: unknown) => {
          // The request may already be answered (a refusal before the whole body was sent): that answer stands.
          request.destroy(error as Error);
          fail(error);
        });
      });
    },
  };
}

/**
 * Writes `chunks` to `request` and ends it, calling `sending` with each chunk before it is written. At most one chunk
 * is waiting in the socket when the next is asked for, so a source may reuse its buffers two by two.
 */
async function writeBody(request: ClientRequest, chunks: AsyncIterable<Uint8Array>, sending: (chunk: Uint8Array) => void): Promise<void> {
  const gone = new Promise<never>((_resolve, reject) => {
    request.once("close", () => reject(new Error("the connection closed while the part was being sent")));
  });
  gone.catch(() => {}); // only awaited while a write is pending
  const written = (chunk: Uint8Array) =>
    new Promise<void>((resolve, reject) => request.write(chunk, (error) => (error ? reject(error) : resolve())));
  let previous: Promise<void> | undefined;
  for await (const chunk of chunks) {
    if (previous) await Promise.race([previous, gone]);
    sending(chunk);
    previous = written(chunk);
    previous.catch(() => {});
  }
  if (previous) await Promise.race([previous, gone]);
  request.end();
}

/**
 * Bytes `offset` to `offset + length` of the file at `path`, read into two buffers used in turn: a chunk is valid
 * until the one after the next is asked for (writeBody's contract).
 */
async function* readFileRange(path: string, offset: number, length: number): AsyncGenerator<Uint8Array> {
  const file = await open(path, "r");
  try {
    const buffers = [Buffer.allocUnsafe(Math.min(FILE_CHUNK, length)), Buffer.allocUnsafe(Math.min(FILE_CHUNK, length))];
    let done = 0;
    for (let turn = 0; done < length; turn ^= 1) {
      const buffer = buffers[turn]!;
      const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, length - done), offset + done);
      if (bytesRead === 0) throw new Error(`${path} is shorter than when the upload started: it changed during the upload`);
      done += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
}

/** MD5 with `node:crypto`, streamed from the part. */
export const nodeMd5Hasher: PartHasher = async (part) => {
  const hash = createHash("md5");
  for await (const chunk of Readable.fromWeb(part.stream() as NodeWebReadableStream<Uint8Array>)) hash.update(chunk as Buffer);
  return hash.digest("hex");
};

/** Uploads the file at `path`, streamed from disk part by part (memory stays flat whatever the file's size). */
export function uploadFile(path: string, options: UploadOptions): UploadTask {
  return upload(openAsBlob(path), {
    fileName: basename(path),
    mimeType: guessMimeType(path),
    transport: nodeHttpTransport({ maxSockets: (options.concurrency ?? 4) * 2, path }),
    hashPart: nodeMd5Hasher,
    ...options,
  });
}

export function guessMimeType(path: string): string {
  return lookup(basename(path)) || "application/octet-stream";
}
