import {
  MAX_PARTS,
  MAX_SINGLE_PUT_SIZE,
  MiB,
  MIN_PART_SIZE,
  planParts,
  type PartIntegrity,
  type PartPlan,
  type SinglePutUploadBody,
  type SinglePutUploadResult,
  type StartUploadResult,
  type UploadMetadata,
  type ErrorCode,
} from "@upload-gateway/contract";
import { createApiClient, isAbort, type ApiClient } from "./api-client";
import { FileChangedError, NetworkError, UploadAbortedError, UploadFailedError, UploadGatewayError } from "./errors";
import { newIdempotencyKey } from "./idempotency-key";
import { defaultPartHasher } from "./md5-worker-hasher";
import { contentMd5OfHex, isDigestRefusal, md5OfETag, type PartHasher } from "./part-hash";
import { ProgressTracker, type UploadProgress } from "./progress";
import { DEFAULT_RETRY_POLICY, retryDelay, sleep, type RetryPolicy } from "./retry";
import { defaultTransport, type PartRequest, type PartResponse, type PartTransport } from "./transport";
import type { UploadSource } from "./upload-source";

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
   * upload: one request fewer each way (default true). A gateway without the route gets a multipart upload.
   */
  singlePut?: boolean;
  retry?: Partial<RetryPolicy>;
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
  /** @deprecated The former name of `verifyParts`. */
  verifyETags?: boolean;
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

const DEFAULT_PART_SIZE = 16 * MiB;
const MAX_RESIGNS_PER_PART = 3;

/**
 * Uploads `source` (a `Blob` or `File`, e.g. from a file input, Deno or Bun; in Node, a file opened with
 * `openFileSource`, or use `uploadFile`) in parallel parts straight to storage. Parts are sliced as they are sent, never
 * the whole file in memory. (Not Node's `fs.openAsBlob`: from 4 GiB on it misreports the size, nodejs/node#52585.)
 */
export function upload(source: Blob | UploadSource | Promise<Blob | UploadSource>, options: UploadOptions): UploadTask {
  const run = new UploadRun(source, options);
  const done = run.start();
  return {
    get requestKey() {
      return run.requestKey;
    },
    get paused() {
      return run.paused;
    },
    done,
    pause: () => run.pause(),
    resume: () => run.resume(),
    then: (onFulfilled, onRejected) => done.then(onFulfilled, onRejected),
  };
}

/** The part plan for a file of `size` bytes at `partSize` bytes a part, within S3's limits. */
export function planForUpload(size: number, partSize = DEFAULT_PART_SIZE): PartPlan {
  if (partSize < MIN_PART_SIZE) throw new RangeError(`partSize must be at least ${MIN_PART_SIZE} bytes (5 MiB)`);
  const partsNumber = Math.min(MAX_PARTS, Math.max(1, Math.ceil(size / partSize)));
  const planned = planParts(size, partsNumber);
  if (!planned.ok) throw new RangeError(planned.problems.map((p) => `${p.field}: ${p.message}`).join("; "));
  return planned.plan;
}

class UploadRun {
  requestKey: string | undefined;
  paused = false;
  private readonly api: ApiClient;
  private readonly retry: RetryPolicy;
  private readonly transport: PartTransport;
  private readonly hashPart: PartHasher;
  private readonly verify: boolean;
  /** What the gateway said about the store's checks (absent from gateways older than the field). */
  private integrity: PartIntegrity | undefined;
  /** Hex MD5s of parts, computed ahead of sending (promises, so one part is hashed once). */
  private readonly md5s = new Map<number, Promise<string>>();
  private readonly cancel = new AbortController();
  private readonly inFlight = new Map<number, AbortController>();
  private pauseWaiters: (() => void)[] = [];
  private urls = new Map<number, string>();
  /** Parts the store reported at the last resume call. */
  private storedParts = new Map<number, { eTag: string; size: number }>();
  private refreshing: Promise<void> | undefined;
  private plan!: PartPlan;
  private uploadId!: string;
  /**
   * Set for a single-PUT upload: the start's body and key, sent again (same key) to sign a fresh URL, and the headers
   * the gateway said its PUT must send (absent from gateways older than the field).
   */
  private singlePut: { body: SinglePutUploadBody; idempotencyKey: string; headers?: Record<string, string> } | undefined;
  /**
   * Set when a retried single PUT found the file stored already (412: its earlier attempt stored it, the reply was
   * lost): the stored file's MD5 is compared with ours once the gateway has confirmed its size.
   */
  private storedByEarlierAttempt = false;
  private source!: UploadSource;
  private fileName!: string;
  private mimeType!: string;

  constructor(
    private readonly opening: Blob | UploadSource | Promise<Blob | UploadSource>,
    private readonly options: UploadOptions,
  ) {
    if (options.client) {
      this.api = options.client;
    } else if (options.baseUrl && (options.apiKey || options.getToken)) {
      this.api = createApiClient({
        baseUrl: options.baseUrl,
        ...(options.getToken ? { getToken: options.getToken } : { apiKey: options.apiKey }),
        fetch: options.fetch,
      });
    } else {
      throw new TypeError("upload() needs `client`, or `baseUrl` and `apiKey` or `getToken`");
    }
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.transport = options.transport ?? defaultTransport(options.fetch);
    this.hashPart = options.hashPart ?? defaultPartHasher();
    this.verify = options.verifyParts ?? options.verifyETags ?? true;
    options.signal?.addEventListener("abort", () => this.cancel.abort(options.signal?.reason), { once: true });
  }

  pause(): void {
    // Parts in flight go on: aborting them would throw their bytes away and send them again after resume().
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    const waiters = this.pauseWaiters;
    this.pauseWaiters = [];
    for (const wake of waiters) wake();
  }

  async start(): Promise<UploadResult> {
    try {
      this.source = await this.opening;
      this.fileName = this.options.fileName ?? ((this.source as Partial<File>).name || "upload");
      this.mimeType = this.options.mimeType ?? (this.source.type || "application/octet-stream");
      const stored = await this.begin();
      const progress = new ProgressTracker(this.plan.contentLength, this.plan.partsNumber, this.options.onProgress);
      const parts = new Map(stored.map((p) => [p.partNumber, p.eTag]));
      progress.alreadyDone(
        stored.reduce((sum, p) => sum + p.size, 0),
        stored.length,
      );
      const queue: number[] = [];
      for (let n = 1; n <= this.plan.partsNumber; n++) {
        if (parts.has(n)) this.options.onPartState?.(n, "done");
        else {
          queue.push(n);
          this.options.onPartState?.(n, "waiting");
        }
      }
      progress.emit(true);

      const concurrency = Math.min(this.options.concurrency ?? 4, Math.max(1, queue.length));
      const workers = Array.from({ length: concurrency }, async () => {
        for (;;) {
          await this.whilePaused();
          const n = queue.shift();
          if (n === undefined) break;
          // Hash the parts next in line while this one is sent: Content-MD5 is a header, so a part's MD5 must be
          // ready before its PUT starts, and computing it only then would leave the connection idle meanwhile. This
          // part first: hashes run one at a time in order of asking, and it is the one whose connection is waiting.
          for (const next of [n, ...queue.slice(0, concurrency)]) this.prepareMd5(next);
          parts.set(n, await this.sendPart(n, progress));
          this.md5s.delete(n);
        }
      });
      // One failed part fails the upload: stop the others rather than keep sending for nothing.
      await Promise.all(
        workers.map((worker) =>
          worker.catch((error: unknown) => {
            queue.length = 0;
            for (const controller of this.inFlight.values()) controller.abort(error);
            throw error;
          }),
        ),
      );

      const completed = [...parts.entries()].sort(([a], [b]) => a - b).map(([partNumber, eTag]) => ({ partNumber, eTag }));
      // The last moment to find that the file changed under the upload: after this, what was sent is the file.
      await this.source.checkUnchanged?.();
      const signal = this.cancel.signal;
      const done = await this.withRetries<unknown>("complete the upload", () =>
        this.singlePut
          ? this.api.downloadUrl(this.options.projectId, this.requestKey!, { signal }) // completes a single PUT
          : this.api.complete(this.options.projectId, { requestKey: this.requestKey!, parts: completed }, { signal }),
      );
      if (this.storedByEarlierAttempt) await this.checkStoredFile((done as { downloadPath: string }).downloadPath);
      return {
        requestKey: this.requestKey!,
        uploadId: this.uploadId,
        transfer: this.singlePut ? "single-put" : "multipart",
        size: this.plan.contentLength,
        partsNumber: this.plan.partsNumber,
        partSize: this.plan.partSize,
        fileName: this.fileName,
        mimeType: this.mimeType,
        partsSent: this.plan.partsNumber - stored.length,
      };
    } catch (error) {
      if (this.cancel.signal.aborted) {
        for (const controller of this.inFlight.values()) controller.abort(this.cancel.signal.reason);
        if (this.requestKey) {
          // Cancelled: leave nothing behind on the server. Best effort; the upload is cancelled either way.
          await this.api.abort(this.options.projectId, this.requestKey).catch(() => undefined);
        }
        throw new UploadAbortedError(this.requestKey);
      }
      if (error instanceof FileChangedError) {
        // Its parts are of a file that no longer is: nothing to continue. Best effort, as for a cancel.
        if (this.requestKey) await this.api.abort(this.options.projectId, this.requestKey).catch(() => undefined);
        throw new FileChangedError(error.message, this.requestKey, { cause: error });
      }
      if (error instanceof UploadFailedError) throw error;
      throw new UploadFailedError(describe(error), this.requestKey, { cause: error });
    }
  }

  /** Starts the upload, or picks up `requestKey`; returns the parts already stored. */
  private async begin(): Promise<{ partNumber: number; eTag: string; size: number }[]> {
    const { projectId, requestKey } = this.options;
    const signal = this.cancel.signal;
    if (requestKey) {
      this.requestKey = requestKey;
      let resumed;
      try {
        resumed = await this.withRetries("resume the upload", () =>
          this.api.resume(projectId, { requestKey, presignedUrlExpiryTimeHours: this.options.presignedUrlExpiryTimeHours }, { signal }),
        );
      } catch (error) {
        if (!hasCode(error, "NOT_A_MULTIPART_UPLOAD")) throw error;
        return this.beginAgainSinglePut(requestKey);
      }
      if (Number(resumed.contentLength) !== this.source.size) {
        throw new UploadFailedError(
          `This file has ${this.source.size} bytes but upload ${requestKey} is for ${resumed.contentLength}: pick the same file to resume.`,
          requestKey,
        );
      }
      this.adopt(resumed);
      return resumed.uploadedParts;
    }
    if (this.fitsOnePut()) {
      try {
        await this.startSinglePut();
        return [];
      } catch (error) {
        // A gateway older than `POST /url`: upload in parts, as it always did.
        if (!hasCode(error, "ROUTE_NOT_FOUND")) throw error;
      }
    }
    const plan = planForUpload(this.source.size, this.options.partSize);
    // One key for this start and all its retries: a retry whose first try's reply was lost gets that upload back.
    const idempotencyKey = newIdempotencyKey();
    const started = await this.withRetries("start the upload", () =>
      this.api.start(
        projectId,
        { ...this.startFields(), partsNumber: plan.partsNumber },
        { signal, idempotencyKey },
      ),
    );
    this.requestKey = started.requestKey;
    this.adopt(started);
    return [];
  }

  /** Whether the file goes up with one PUT: at most one part's size (and S3's single-PUT limit), unless turned off. */
  private fitsOnePut(): boolean {
    const onePart = Math.min(this.options.partSize ?? DEFAULT_PART_SIZE, MAX_SINGLE_PUT_SIZE);
    return this.options.singlePut !== false && this.source.size <= onePart;
  }

  /** What both kinds of start say about the file and the upload (a multipart start adds its parts number). */
  private startFields(): SinglePutUploadBody {
    return {
      fileName: this.fileName,
      contentLength: String(this.source.size),
      mimeType: this.mimeType,
      presignedUrlExpiryTimeHours: this.options.presignedUrlExpiryTimeHours,
      enableDuplicateCheck: this.options.enableDuplicateCheck,
      fileHash: this.options.fileHash,
      metadata: this.options.metadata,
    };
  }

  /**
   * What a single PUT sends besides the body and its digest: exactly the headers the gateway listed, or for a gateway
   * from before that list the type and `If-None-Match: *` its URL was signed for. Nothing for a part.
   */
  private singlePutHeaders(): Pick<PartRequest, "headers" | "contentType" | "putOnce"> {
    if (!this.singlePut) return {};
    return this.singlePut.headers ? { headers: this.singlePut.headers } : { contentType: this.mimeType, putOnce: true };
  }

  /** Starts a single-PUT upload (`POST /url`): the plan is one part, the whole file, sent to the one URL. */
  private async startSinglePut(): Promise<void> {
    this.singlePut = {
      body: this.startFields(),
      // One key for the start, its retries and every later re-signing of its URL: they all answer the same upload.
      idempotencyKey: newIdempotencyKey(),
    };
    let started: SinglePutUploadResult;
    try {
      started = await this.signSinglePut("start the upload");
    } catch (error) {
      this.singlePut = undefined;
      throw error;
    }
    this.requestKey = started.requestKey;
    this.uploadId = "";
    this.integrity = started.integrity;
    if (started.headers) this.singlePut.headers = started.headers;
    const size = this.source.size;
    this.plan = { partSize: size, partsNumber: 1, contentLength: size, lastPartSize: size };
    this.urls = new Map([[1, started.url]]);
    this.options.onStart?.({ requestKey: started.requestKey, uploadId: "", partsTotal: 1, partSize: size });
  }

  /** The single-PUT start, sent with its key: the first time it makes the upload, later it signs a fresh URL for it. */
  private signSinglePut(what: string): Promise<SinglePutUploadResult> {
    const { body, idempotencyKey } = this.singlePut!;
    return this.withRetries(what, () =>
      this.api.startSinglePut(this.options.projectId, body, { signal: this.cancel.signal, idempotencyKey }),
    );
  }

  /**
   * Continuing a single-PUT upload (`requestKey` names one): its URL cannot be signed again without its start's key,
   * and a file of one part has nothing stored to keep, so it is sent again as a new upload and the old one is aborted.
   * One that is already completed with this file's size is done.
   */
  private async beginAgainSinglePut(requestKey: string): Promise<{ partNumber: number; eTag: string; size: number }[]> {
    const signal = this.cancel.signal;
    const details = await this.withRetries("look up the upload", () => this.api.get(this.options.projectId, requestKey, { signal }));
    const size = this.source.size;
    if (details.state === "completed" && Number(details.contentLength) === size) {
      this.singlePut = { body: { fileName: details.fileName, mimeType: details.mimeType, contentLength: details.contentLength }, idempotencyKey: "" };
      this.uploadId = "";
      this.plan = { partSize: size, partsNumber: 1, contentLength: size, lastPartSize: size };
      this.options.onStart?.({ requestKey, uploadId: "", partsTotal: 1, partSize: size });
      return [{ partNumber: 1, eTag: "", size }];
    }
    if (details.state === "uploading") await this.api.abort(this.options.projectId, requestKey, { signal }).catch(() => undefined);
    this.requestKey = undefined;
    await this.startSinglePut();
    return [];
  }

  private adopt({ uploadId, partSize, partsNumber, presignedUrl: urls, integrity }: StartUploadResult) {
    this.uploadId = uploadId;
    this.integrity = integrity;
    this.plan = {
      partSize,
      partsNumber,
      contentLength: this.source.size,
      lastPartSize: this.source.size - (partsNumber - 1) * partSize,
    };
    this.urls = new Map(urls.map((u) => [u.partNumber, u.presignedUrl]));
    this.options.onStart?.({ requestKey: this.requestKey!, uploadId, partsTotal: partsNumber, partSize });
  }

  /**
   * Whether parts are hashed before they are sent, for `Content-MD5`. Not when the transport hashes what it sends and
   * the store's ETags are MD5s: then comparing the ETag afterwards checks the same bytes without reading them twice
   * (Node reading from disk; see nodeHttpTransport). Always for a single PUT: its URL stores once, so bytes corrupted
   * on the way must be refused by the store (Content-MD5), as a mismatching ETag found afterwards could not be mended.
   */
  private get hashesFirst(): boolean {
    if (!this.verify) return false;
    return this.singlePut !== undefined || !(this.transport.hashesWhileSending && this.integrity?.eTagIsMd5 === true);
  }

  private partBody(partNumber: number): Blob {
    const start = (partNumber - 1) * this.plan.partSize;
    const end = Math.min(start + this.plan.partSize, this.plan.contentLength);
    const body = this.source.slice(start, end);
    if (body.size !== end - start) {
      throw new FileChangedError(`Part ${partNumber} of the file has ${body.size} bytes, not the ${end - start} planned: the file changed.`, this.requestKey);
    }
    return body;
  }

  /** The part's hex MD5, computed once however many attempts ask for it. */
  private md5Of(partNumber: number): Promise<string> {
    let md5 = this.md5s.get(partNumber);
    if (!md5) {
      md5 = this.hashPart(this.partBody(partNumber));
      this.md5s.set(partNumber, md5);
      // A failed hash (the file changed or went away) is not kept: the part's own attempt hashes again and fails then.
      md5.catch(() => this.md5s.delete(partNumber));
    }
    return md5;
  }

  /** Starts hashing a part that is about to be sent, when parts are hashed first. */
  private prepareMd5(partNumber: number): void {
    if (this.hashesFirst) this.md5Of(partNumber).catch(() => undefined);
  }

  /** Sends one part until it is stored; returns its ETag. */
  private async sendPart(partNumber: number, progress: ProgressTracker): Promise<string> {
    const start = (partNumber - 1) * this.plan.partSize;
    const body = this.partBody(partNumber);
    let failures = 0;
    let resigns = 0;
    for (;;) {
      const url = this.urls.get(partNumber) ?? (await this.refreshUrls(), this.urls.get(partNumber));
      const eTagIsMd5 = this.integrity?.eTagIsMd5 === true;
      if (!url) {
        // No fresh URL: the store already has this part (an earlier attempt's reply was lost). Use it if it is ours:
        // its size matches, and its MD5 where the ETag tells it. (Sent with Content-MD5, its bytes were checked.)
        const stored = this.storedParts.get(partNumber);
        const storedMd5 = eTagIsMd5 ? md5OfETag(stored?.eTag ?? null) : undefined;
        const ours = this.verify && storedMd5 ? await this.md5Of(partNumber) : undefined;
        if (stored && stored.size === body.size && (!ours || ours === storedMd5)) {
          this.partStored(partNumber, body.size, progress);
          return stored.eTag;
        }
        throw new UploadFailedError(`The gateway gave no URL for part ${partNumber}.`, this.requestKey);
      }
      const md5 = this.hashesFirst ? await this.md5Of(partNumber) : undefined;
      const contentMd5 = md5 && this.integrity?.contentMd5 !== false ? contentMd5OfHex(md5) : undefined;
      // A retry is a new PUT: it waits while paused, as new parts do. (The first attempt waited before the part was taken.)
      await this.whilePaused();

      this.options.onPartState?.(partNumber, failures > 0 ? "retrying" : "sending");
      const attempt = new AbortController();
      this.inFlight.set(partNumber, attempt);
      const onCancel = () => attempt.abort(this.cancel.signal.reason);
      this.cancel.signal.addEventListener("abort", onCancel, { once: true });
      const stall = new StallTimer(attempt, this.stallLimit(body.size));
      let outcome: PartResponse | { error: unknown };
      try {
        outcome = await this.transport.send({
          url,
          body,
          offset: start,
          signal: attempt.signal,
          contentMd5,
          ...this.singlePutHeaders(),
          onProgress: (loaded) => {
            stall.touch();
            progress.partProgress(partNumber, loaded);
            this.options.onPartProgress?.(partNumber, loaded, body.size);
          },
        });
      } catch (error) {
        outcome = { error };
      } finally {
        stall.clear();
        this.inFlight.delete(partNumber);
        this.cancel.signal.removeEventListener("abort", onCancel);
      }
      progress.partReset(partNumber);
      const stored = "status" in outcome && outcome.status >= 200 && outcome.status < 300;
      // An attempt that did not store the part starts over from its first byte.
      if (!stored) this.options.onPartProgress?.(partNumber, 0, body.size);
      if (this.cancel.signal.aborted) throw this.cancel.signal.reason;

      if ("error" in outcome) {
        if (!(outcome.error instanceof NetworkError) && !stall.fired) throw outcome.error;
        failures = await this.backoff(failures, partNumber, `part ${partNumber}: ${stall.fired ? "stalled" : describe(outcome.error)}`);
        continue;
      }

      const { status, eTag, retryAfter, sentMd5, errorBody } = outcome;
      if (status >= 200 && status < 300) {
        const storedMd5 = md5OfETag(eTag);
        const sent = sentMd5 ?? md5;
        if (this.verify && eTagIsMd5 && storedMd5 && sent && storedMd5 !== sent) {
          // The store received other bytes than we sent: send the part again.
          failures = await this.backoff(failures, partNumber, `part ${partNumber}: its ETag does not match its MD5`);
          continue;
        }
        if (!eTag) throw new UploadFailedError(`Part ${partNumber} was stored but its ETag could not be read (is ETag exposed by CORS?).`, this.requestKey);
        this.partStored(partNumber, body.size, progress);
        return eTag;
      }
      if (status === 412 && this.singlePut) {
        // The URL stores once (If-None-Match: *) and a file is stored at it already. After a failed attempt that is
        // ours: the attempt stored it but its reply was lost. The gateway confirms its size when completing; its MD5
        // is compared then, where the store's ETag tells it. Before any attempt of ours, someone else's.
        if (failures === 0) {
          throw new UploadFailedError(
            "The store already holds a file for this upload, which this upload did not send (412): its URL was used by someone else.",
            this.requestKey,
          );
        }
        this.storedByEarlierAttempt = true;
        this.partStored(partNumber, body.size, progress);
        return "";
      }
      if (contentMd5 && isDigestRefusal(status, errorBody)) {
        // The store refused bytes that do not match their Content-MD5: they were corrupted on the way. Send them again.
        failures = await this.backoff(failures, partNumber, `part ${partNumber}: the store refused it, its bytes do not match their MD5`);
        continue;
      }
      if (status === 403 && resigns < MAX_RESIGNS_PER_PART) {
        // Expired or refused URL: get a fresh one through the resume endpoint rather than retry the same one.
        resigns += 1;
        this.urls.delete(partNumber);
        continue;
      }
      if (status === 408 || status === 429 || status >= 500) {
        failures = await this.backoff(failures, partNumber, `part ${partNumber}: storage answered ${status}`, retryAfter);
        continue;
      }
      throw new UploadFailedError(
        status === 404
          ? `Part ${partNumber} was refused with 404: the upload no longer exists (aborted, or completed elsewhere).`
          : `Part ${partNumber} was refused with HTTP ${status}.`,
        this.requestKey,
      );
    }
  }

  /**
   * Compares the MD5 of a single-PUT file found stored (see `storedByEarlierAttempt`) with ours, through the ETag of its
   * download, where ETags are MD5s and parts are verified; the gateway checked its size already. A mismatch fails.
   */
  private async checkStoredFile(downloadPath: string): Promise<void> {
    if (!this.verify || this.integrity?.eTagIsMd5 !== true) return;
    const ours = await this.md5Of(1);
    const fetchImpl = this.options.fetch ?? globalThis.fetch.bind(globalThis);
    const response = await this.withRetries("check the stored file", async () => {
      try {
        return await fetchImpl(downloadPath, { signal: this.cancel.signal });
      } catch (error) {
        if (isAbort(error)) throw error;
        throw new NetworkError(`The download got no answer: ${(error as Error).message}`, { cause: error });
      }
    });
    // Only the headers are needed: the body is not read.
    await response.body?.cancel().catch(() => undefined);
    const stored = md5OfETag(response.headers.get("etag"));
    if (response.ok && stored !== undefined && stored !== ours) {
      throw new UploadFailedError(
        `The file stored for this upload is not this file (its MD5 is ${stored}, this file's ${ours}): its URL was used by someone else.`,
        this.requestKey,
      );
    }
  }

  private partStored(partNumber: number, size: number, progress: ProgressTracker): void {
    progress.partDone(partNumber, size);
    this.options.onPartProgress?.(partNumber, size, size);
    this.options.onPartState?.(partNumber, "done");
  }

  /** Counts a failure and waits before the next attempt; fails the upload when the retries are used up. */
  private async backoff(failures: number, partNumber: number, why: string, retryAfter?: string | null): Promise<number> {
    if (failures >= this.retry.retries) {
      throw new UploadFailedError(`Gave up after ${failures + 1} attempts: ${why}`, this.requestKey);
    }
    this.options.onPartState?.(partNumber, "retrying");
    await sleep(retryDelay(this.retry, failures, retryAfter), this.cancel.signal);
    return failures + 1;
  }

  /** Fresh URLs for every part not yet stored, from the resume endpoint; one call however many parts ask at once. */
  private refreshUrls(): Promise<void> {
    if (this.singlePut) {
      this.refreshing ??= this.signSinglePut("renew the upload's URL")
        .then((signed) => {
          this.urls.set(1, signed.url);
          if (this.singlePut && signed.headers) this.singlePut.headers = signed.headers;
        })
        .finally(() => {
          this.refreshing = undefined;
        });
      return this.refreshing;
    }
    this.refreshing ??= this.withRetries("renew the part URLs", () =>
      this.api.resume(
        this.options.projectId,
        { requestKey: this.requestKey!, presignedUrlExpiryTimeHours: this.options.presignedUrlExpiryTimeHours },
        { signal: this.cancel.signal },
      ),
    )
      .then((resumed) => {
        for (const { partNumber, presignedUrl } of resumed.presignedUrl) this.urls.set(partNumber, presignedUrl);
        this.integrity = resumed.integrity ?? this.integrity;
        this.storedParts = new Map(resumed.uploadedParts.map((p) => [p.partNumber, p]));
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  /** Calls the gateway, retrying what can succeed later (no answer, 429, 5xx); other errors fail at once. */
  private async withRetries<T>(what: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (this.cancel.signal.aborted || isAbort(error)) throw error;
        const retryable = error instanceof NetworkError || (error instanceof UploadGatewayError && error.retryable);
        if (!retryable || attempt >= this.retry.retries) {
          throw new UploadFailedError(`Could not ${what}: ${describe(error)}`, this.requestKey, { cause: error });
        }
        await sleep(retryDelay(this.retry, attempt), this.cancel.signal);
      }
    }
  }

  private async whilePaused(): Promise<void> {
    while (this.paused) {
      if (this.cancel.signal.aborted) throw this.cancel.signal.reason;
      await new Promise<void>((resolve) => {
        this.pauseWaiters.push(resolve);
        this.cancel.signal.addEventListener("abort", () => resolve(), { once: true });
      });
    }
  }

  private stallLimit(size: number): number {
    const base = this.options.stallTimeoutMs ?? 60_000;
    return this.transport.reportsProgress ? base : base + (size / (64 * 1024)) * 1000;
  }
}

/** Aborts an attempt that makes no progress for `limitMs`. */
class StallTimer {
  fired = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly attempt: AbortController,
    private readonly limitMs: number,
  ) {
    this.touch();
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.fired = true;
      this.attempt.abort(new NetworkError(`no progress for ${Math.round(this.limitMs / 1000)} s`));
    }, this.limitMs);
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

/** Whether `error` (or the gateway error it wraps) carries `code`. */
function hasCode(error: unknown, code: ErrorCode): boolean {
  const gatewayError = error instanceof UploadGatewayError ? error : (error as { cause?: unknown } | undefined)?.cause;
  return gatewayError instanceof UploadGatewayError && gatewayError.hasCode(code);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
