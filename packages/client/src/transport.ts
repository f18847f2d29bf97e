import { FileChangedError, NetworkError } from "./errors";
import { isChunkedPart } from "./upload-source";

/** One part PUT to its presigned URL. */
export interface PartRequest {
  url: string;
  /** A `Blob` slice of the file, or a Blob-shaped part of another source (a file on disk in Node: see `UploadSource`). */
  body: Blob;
  /** Where `body` starts in the whole file (lets a transport read the file itself). */
  offset: number;
  signal: AbortSignal;
  /** Base64 MD5 of `body`, sent as `Content-MD5` so that the store refuses bytes corrupted on the way (400). */
  contentMd5?: string;
  /**
   * A single PUT's headers as the gateway listed them (`headers` of `POST /url`): sent exactly as they are, and then
   * `contentType` and `putOnce` are not used. Part URLs take none.
   */
  headers?: Record<string, string>;
  /** The `Content-Type` a single-PUT URL of a gateway from before `headers` is signed for (the file's MIME type). */
  contentType?: string;
  /**
   * A single PUT to a gateway from before `headers`: sent with `If-None-Match: *`, which its URL is signed for, so the
   * store keeps the first file stored and refuses any later PUT to the URL (412).
   */
  putOnce?: boolean;
  /** Bytes of `body` sent so far; called by transports that can tell. */
  onProgress?: (loaded: number) => void;
}

export interface PartResponse {
  status: number;
  /** The part's ETag header (S3 and the embedded store send the part's MD5, quoted). */
  eTag: string | null;
  /** The Retry-After header of a 429 or 503. */
  retryAfter: string | null;
  /** Hex MD5 of the bytes sent, from transports that hash as they send (saves reading the part twice). */
  sentMd5?: string;
  /** The start of the body of a refusal (4xx/5xx), to tell a refused digest from other refusals. */
  errorBody?: string;
}

/** How much of a refusal's body transports keep: enough for an S3 error document or an envelope's first error. */
export const ERROR_BODY_LIMIT = 4096;

/**
 * How part bytes travel. The uploader picks `xhrTransport` in browsers (it reports upload progress) and
 * `fetchTransport` elsewhere; `@upload-gateway/client/node` has one on `node:http` that streams from disk with progress.
 * A transport rejects with a `NetworkError` when no answer came, and with the signal's reason when aborted.
 */
export interface PartTransport {
  send(request: PartRequest): Promise<PartResponse>;
  /** Whether `onProgress` is called while a part is being sent (lets the uploader spot a stalled part sooner). */
  readonly reportsProgress: boolean;
  /** Whether replies carry `sentMd5`. */
  readonly hashesWhileSending?: boolean;
}

/** `fetch` with a `Blob` body: the length is known, so runtimes stream it without buffering or chunked encoding. */
export function fetchTransport(fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis)): PartTransport {
  return {
    reportsProgress: false,
    async send(request) {
      const { url, body, signal } = request;
      // A file's part (Node) is read into memory first: fetch takes real Blobs only, and would send a stream chunked.
      const payload = isChunkedPart(body) ? new Blob([await body.arrayBuffer()]) : body;
      if (payload.size !== body.size) {
        throw new FileChangedError(
          `The file gave ${payload.size} bytes for a part of ${body.size}: it changed during the upload.`,
          undefined,
        );
      }
      let response: Response;
      try {
        response = await fetchImpl(url, { method: "PUT", body: payload, signal, headers: partHeaders(request) });
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        throw new NetworkError(`The part upload got no answer: ${(error as Error).message}`, { cause: error });
      }
      // Read the body so the connection can be reused; it is small (empty, or an error document).
      const text = await response.text().catch(() => "");
      return {
        status: response.status,
        eTag: response.headers.get("etag"),
        retryAfter: response.headers.get("retry-after"),
        ...(response.ok ? {} : { errorBody: text.slice(0, ERROR_BODY_LIMIT) }),
      };
    },
  };
}

/** `XMLHttpRequest`, the only browser API that reports upload progress. */
export function xhrTransport(): PartTransport {
  return {
    reportsProgress: true,
    send(request) {
      const { url, body, signal, onProgress } = request;
      return new Promise<PartResponse>((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        if (!(body instanceof Blob))
          return reject(new TypeError("xhrTransport sends Blob parts (a File's slices) only"));
        const xhr = new XMLHttpRequest();
        const onAbort = () => xhr.abort();
        signal.addEventListener("abort", onAbort, { once: true });
        const settle = () => signal.removeEventListener("abort", onAbort);
        xhr.open("PUT", url);
        for (const [name, value] of Object.entries(partHeaders(request))) xhr.setRequestHeader(name, value);
        xhr.upload.onprogress = (event) => onProgress?.(event.loaded);
        xhr.onload = () => {
          settle();
          const ok = xhr.status >= 200 && xhr.status < 300;
          resolve({
            status: xhr.status,
            eTag: xhr.getResponseHeader("etag"),
            retryAfter: xhr.getResponseHeader("retry-after"),
            ...(ok ? {} : { errorBody: String(xhr.responseText ?? "").slice(0, ERROR_BODY_LIMIT) }),
          });
        };
        xhr.onerror = () => {
          settle();
          reject(
            new NetworkError(
              "The part upload got no answer: a network error, or a CORS refusal (the bucket's CORS rule must allow PUT with the Content-MD5, Content-Type, If-None-Match and x-amz-acl headers and expose ETag).",
            ),
          );
        };
        xhr.onabort = () => {
          settle();
          reject(signal.reason ?? new DOMException("Aborted", "AbortError"));
        };
        xhr.send(body);
      });
    },
  };
}

export function defaultTransport(fetchImpl?: typeof fetch): PartTransport {
  return typeof XMLHttpRequest === "function" && !fetchImpl ? xhrTransport() : fetchTransport(fetchImpl);
}

/**
 * Headers of a part PUT: `Content-MD5`, and for a single PUT exactly the `headers` the gateway listed (or, from a
 * gateway before that list, the `Content-Type` and `If-None-Match: *` its URL is signed for). Nothing else: the length
 * comes from the body, and any other header would need signing. The type is always set when given, so that a runtime
 * does not send the Blob's own type (or none) instead of the signed one.
 */
export function partHeaders(
  request: Pick<PartRequest, "contentMd5" | "headers" | "contentType" | "putOnce">,
): Record<string, string> {
  const { contentMd5, headers, contentType, putOnce } = request;
  return {
    ...(headers ? {} : contentType ? { "content-type": contentType } : {}),
    ...(contentMd5 ? { "content-md5": contentMd5 } : {}),
    ...(headers ?? (putOnce ? { "if-none-match": "*" } : {})),
  };
}
