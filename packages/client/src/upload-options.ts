import type { UploadMetadata, Verification } from "@upload-gateway/contract";
import type { ApiClient } from "./api-client";
import type { PartHasher } from "./part-hash";
import type { UploadProgress } from "./progress";
import type { RetryPolicy } from "./retry";
import type { RetryNotice } from "./retry-budget";
import type { PartTransport } from "./transport";

export type PartState = "waiting" | "sending" | "done" | "retrying";

export interface UploadOptions {
  /** The gateway: an API client, or where it is and the key (servers) or a `getToken` (web pages). */
  client?: ApiClient;
  baseUrl?: string;
  apiKey?: string;
  /** Returns an upload token from your backend, used instead of `apiKey` (see `ApiClientOptions.getToken`). */
  getToken?: () => string | Promise<string>;
  projectId: string;
  /** Defaults to the `File`'s name, else "upload". */
  fileName?: string;
  /** Defaults to the `Blob`'s type, else `application/octet-stream`. */
  mimeType?: string;
  /** Largest part wanted, in bytes (≥ 5 MiB; default 16 MiB). The server spreads the file evenly over
   * `ceil(size / partSize)` parts, so parts may come out a little smaller; huge files get bigger parts, as S3 allows
   * at most 10,000. */
  partSize?: number;
  /** Parts sent at once (default 4). */
  concurrency?: number;
  /**
   * Send a file of at most one part (`partSize`, and empty files) with one PUT (`POST /url`) instead of a multipart
   * upload: one request fewer each way (default true).
   */
  singlePut?: boolean;
  /**
   * How long a part, the start, a resume or the completion is retried while it fails (no answer, 429, 5xx), in ms:
   * default 10 minutes, counted from the first failure and started over by a success. Long enough to ride out a store
   * failover, a redeploy or a Wi-Fi switch without anyone rerunning the upload. In browsers the upload waits while
   * `navigator.onLine` is false, and that time is not counted. Same as `retry.retryForMs`.
   */
  retryForMs?: number;
  /** Backoff between attempts (exponential from 500 ms, capped at 30 s, with jitter) and the budget (`retryForMs`). */
  retry?: Partial<RetryPolicy>;
  /** Told before each wait between two attempts: what failed, whether the store or the gateway is unreachable, and
   * how much of the budget is left (the CLI shows "store unreachable, retrying (2:10 left)"). */
  onRetry?: (notice: RetryNotice) => void;
  /** Continue this upload instead of starting a new one (after a reload or a restart). */
  requestKey?: string;
  /** Called as soon as the upload has a request key: persist it to resume later. */
  onStart?: (info: { requestKey: string; uploadId: string; partsTotal: number; partSize: number }) => void;
  onProgress?: (progress: UploadProgress) => void;
  onPartState?: (partNumber: number, state: PartState) => void;
  /** Bytes of one part stored so far: as its PUT sends them, back to 0 when an attempt fails, `partBytes` when stored.
   * Called as often as the transport reports (per chunk): throttle before rendering. */
  onPartProgress?: (partNumber: number, bytesSent: number, partBytes: number) => void;
  /** Cancels the upload: stops in-flight requests and aborts the upload on the server. */
  signal?: AbortSignal;
  presignedUrlExpiryTimeHours?: number;
  enableDuplicateCheck?: boolean;
  fileHash?: string;
  /**
   * Your own strings about the upload (a title, the owner's id): kept with it, returned by the status and list calls,
   * and sent with the gateway's lifecycle events and webhooks. At most 32 keys, 1 KiB per value, 8 KiB in all.
   */
  metadata?: UploadMetadata;
  /**
   * Check each part's integrity (default true). The part's MD5 is sent as `Content-MD5`, which the store verifies on
   * receipt (a corrupted part is refused with 400 and sent again), and, where the gateway says the store's ETags are
   * MD5s (`integrity.eTagIsMd5` in the start result), the ETag is compared with it too. In browsers the MD5 is computed
   * in a Web Worker, ahead of sending, so it costs neither speed nor the page's responsiveness.
   */
  verifyParts?: boolean;
  /** A part with no progress for this long is abandoned and retried (default 60 s; where progress is not reported,
   * the limit grows with the part's size at 64 KiB/s). */
  stallTimeoutMs?: number;
  transport?: PartTransport;
  hashPart?: PartHasher;
  fetch?: typeof fetch;
}

export interface UploadResult {
  requestKey: string;
  /** The store's multipart upload id; empty for a single-PUT upload. */
  uploadId: string;
  /** `single-put` when the file went up with one PUT (`POST /url`), else `multipart` (always set by `upload()`). */
  transfer?: "multipart" | "single-put";
  size: number;
  partsNumber: number;
  partSize: number;
  fileName: string;
  mimeType: string;
  /** Parts this call sent (the others were stored before it resumed the upload). */
  partsSent: number;
  /**
   * What the gateway's content check found in the stored file: its detected type (`detectedMimeType`) and, for audio
   * and video, the media facts (`media`: container, duration, size, frame rate, codecs, bit rate). Always
   * `state: "passed"` here: a file the check refuses fails the upload with `ContentRejectedError`. Absent when the
   * gateway does not check content (a version from before the check).
   */
  verification?: Verification;
}

export interface UploadTask extends PromiseLike<UploadResult> {
  /** Known once the upload has started (see `onStart`). */
  readonly requestKey: string | undefined;
  readonly done: Promise<UploadResult>;
  /**
   * Stops starting parts: the parts in flight finish (none is sent twice), and no other starts until `resume()`.
   * Progress stops once they are stored. To stop at once and discard the upload, cancel through `signal`.
   */
  pause(): void;
  resume(): void;
  readonly paused: boolean;
}
