import { createHash } from "node:crypto";
import { Agent as HttpAgent, request as httpRequest, type ClientRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { basename } from "node:path";
import { lookup } from "mime-types";
import { FileChangedError, NetworkError } from "./errors";
import { chunksOf, exactly, openFileSource, type FileSource } from "./file-source";
import type { PartHasher } from "./part-hash";
import { ERROR_BODY_LIMIT, partHeaders, type PartTransport } from "./transport";
import { isChunkedPart } from "./upload-source";
import { upload, type UploadOptions, type UploadTask } from "./uploader";

export * from "./index";
export { openFileSource, type FileSource } from "./file-source";

/**
 * Node's part transport: streams each part to `node:http(s)` with a known Content-Length (no buffering, no chunked
 * encoding), reports progress as bytes leave, hashes them on the way (so the ETag check needs no second read), and
 * reuses connections. Parts of a file source (`uploadFile`, `openFileSource`; or any part when `path` is given) are
 * read from the file directly into two reused 512 KiB buffers per part (one being read while the other is written to
 * the socket): no allocation per chunk, no stream machinery between the disk and the socket, and at most 1 MiB of a
 * part in memory. A part whose source gives other than its size in bytes fails with `FileChangedError`.
 */
export function nodeHttpTransport(options: { maxSockets?: number; path?: string } = {}): PartTransport {
  const agents = {
    "http:": new HttpAgent({ keepAlive: true, maxSockets: options.maxSockets ?? 16 }),
    "https:": new HttpsAgent({ keepAlive: true, maxSockets: options.maxSockets ?? 16 }),
  };
  const partChunks = (body: Blob, offset: number): AsyncIterable<Uint8Array> =>
    !isChunkedPart(body) && options.path ? fileRange(options.path, offset, body.size) : chunksOf(body);
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
          if (signal.aborted) reject(signal.reason);
          // The file failed us, not the network: sending it again would not help.
          else if (error instanceof FileChangedError) reject(error);
          else reject(new NetworkError(`The part upload got no answer: ${(error as Error).message}`, { cause: error }));
        };
        const md5 = createHash("md5");
        let sent = 0;
        request.on("response", (response) => {
          // Drain the (small) body so the socket is reused; keep the start of a refusal's body.
          const ok = (response.statusCode ?? 0) >= 200 && (response.statusCode ?? 0) < 300;
          let errorBody = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => {
            if (!ok && errorBody.length < ERROR_BODY_LIMIT)
              errorBody += chunk.slice(0, ERROR_BODY_LIMIT - errorBody.length);
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
        writeBody(request, exactly(body.size, partChunks(body, offset)), (chunk) => {
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
async function writeBody(
  request: ClientRequest,
  chunks: AsyncIterable<Uint8Array>,
  sending: (chunk: Uint8Array) => void,
): Promise<void> {
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

/** Bytes `offset` to `offset + length` of the file at `path`, opened for this part alone. */
async function* fileRange(path: string, offset: number, length: number): AsyncGenerator<Uint8Array> {
  const file = await openFileSource(path);
  try {
    yield* file.slice(offset, offset + length).chunks();
  } finally {
    await file.close();
  }
}

/** MD5 with `node:crypto`, streamed from the part (read from the file directly for a file's parts). */
export const nodeMd5Hasher: PartHasher = async (part) => {
  const hash = createHash("md5");
  for await (const chunk of exactly(part.size, chunksOf(part))) hash.update(chunk);
  return hash.digest("hex");
};

/**
 * Uploads the file at `path`, streamed from disk part by part (memory stays flat whatever the file's size: tested up to
 * 5 GiB; plans go to 5 TiB). Its size is the open file's; if the file changes during the upload (size or modification
 * time), the upload fails with `FileChangedError` and is not completed.
 */
export function uploadFile(path: string, options: UploadOptions): UploadTask {
  const opening = openFileSource(path);
  const task = upload(opening, {
    fileName: basename(path),
    mimeType: guessMimeType(path),
    transport: nodeHttpTransport({ maxSockets: (options.concurrency ?? 4) * 2 }),
    hashPart: nodeMd5Hasher,
    ...options,
  });
  // The file stays open for the upload's reads, and is closed once it is over, whichever way.
  void task.done.then(closeSource(opening), closeSource(opening));
  return task;
}

function closeSource(opening: Promise<FileSource>): () => void {
  return () => void opening.then((file) => file.close()).catch(() => undefined);
}

export function guessMimeType(path: string): string {
  return lookup(basename(path)) || "application/octet-stream";
}
