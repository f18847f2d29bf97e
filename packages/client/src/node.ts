import { createHash } from "node:crypto";
import { createReadStream, openAsBlob } from "node:fs";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { basename } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeWebReadableStream } from "node:stream/web";
import { lookup } from "mime-types";
import { NetworkError } from "./errors";
import type { PartHasher } from "./part-hash";
import { ERROR_BODY_LIMIT, partHeaders, type PartTransport } from "./transport";
import { upload, type UploadOptions, type UploadTask } from "./uploader";

export * from "./index";

/**
 * Node's part transport: streams each part to `node:http(s)` with a known Content-Length (no buffering, no chunked
 * encoding), reports progress as bytes leave, hashes them on the way (so the ETag check needs no second read), and
 * reuses connections. With `path`, parts are read from the file directly, in 128 KiB chunks: smaller reads keep memory low, much smaller ones cost speed (see the benchmark).
 */
export function nodeHttpTransport(options: { maxSockets?: number; path?: string } = {}): PartTransport {
  const agents = {
    "http:": new HttpAgent({ keepAlive: true, maxSockets: options.maxSockets ?? 16 }),
    "https:": new HttpsAgent({ keepAlive: true, maxSockets: options.maxSockets ?? 16 }),
  };
  const read = (body: Blob, offset: number): Readable =>
    options.path
      ? createReadStream(options.path, { start: offset, end: offset + body.size - 1, highWaterMark: 128 * 1024 })
      : Readable.fromWeb(body.stream() as NodeWebReadableStream<Uint8Array>);
  return {
    reportsProgress: true,
    hashesWhileSending: true,
    send({ url, body, offset, signal, contentMd5, contentType, onProgress }) {
      return new Promise((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        const target = new URL(url);
        const send = target.protocol === "https:" ? httpsRequest : httpRequest;
        const request = send(target, {
          method: "PUT",
          agent: agents[target.protocol as "http:" | "https:"],
          headers: { "content-length": String(body.size), ...partHeaders(contentMd5, contentType) },
          signal,
        });
        let settled = false;
        const fail = (error: unknown) => {
          if (settled) return;
          settled = true;
          reject(signal.aborted ? signal.reason : new NetworkError(`The part upload got no answer: ${(error as Error).message}`, { cause: error }));
        };
        const md5 = createHash("md5");
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
        let sent = 0;
        const count = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            sent += chunk.length;
            md5.update(chunk);
            onProgress?.(sent);
            callback(null, chunk);
          },
        });
        pipeline(read(body, offset), count, request).catch((error: unknown) => {
          if (!request.writableFinished) fail(error);
        });
      });
    },
  };
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
