import { NetworkError } from "./errors";

/** One part PUT to its presigned URL. */
export interface PartRequest {
  url: string;
  body: Blob;
  /** Where `body` starts in the whole file (lets a transport read the file itself). */
  offset: number;
  signal: AbortSignal;
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
}

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
    async send({ url, body, signal }) {
      let response: Response;
      try {
        response = await fetchImpl(url, { method: "PUT", body, signal });
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        throw new NetworkError(`The part upload got no answer: ${(error as Error).message}`, { cause: error });
      }
      // Read the body so the connection can be reused; it is small (empty, or an error document).
      await response.arrayBuffer().catch(() => undefined);
      return { status: response.status, eTag: response.headers.get("etag"), retryAfter: response.headers.get("retry-after") };
    },
  };
}

/** `XMLHttpRequest`, the only browser API that reports upload progress. */
export function xhrTransport(): PartTransport {
  return {
    reportsProgress: true,
    send({ url, body, signal, onProgress }) {
      return new Promise<PartResponse>((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        const xhr = new XMLHttpRequest();
        const onAbort = () => xhr.abort();
        signal.addEventListener("abort", onAbort, { once: true });
        const settle = () => signal.removeEventListener("abort", onAbort);
        xhr.open("PUT", url);
        xhr.upload.onprogress = (event) => onProgress?.(event.loaded);
        xhr.onload = () => {
          settle();
          resolve({ status: xhr.status, eTag: xhr.getResponseHeader("etag"), retryAfter: xhr.getResponseHeader("retry-after") });
        };
        xhr.onerror = () => {
          settle();
          reject(new NetworkError("The part upload got no answer (network error or CORS refusal)."));
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
