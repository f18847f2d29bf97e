import { MAX_SINGLE_PUT_SIZE, type ErrorCode, type SinglePutUploadBody } from "@upload-gateway/contract";
import { createApiClient, type ApiClient } from "./api-client";
import { contentRejection, gatewayErrorOf } from "./content-rejection";
import { FileChangedError, UploadAbortedError, UploadFailedError } from "./errors";
import { defaultPartHasher } from "./md5-worker-hasher";
import { MultipartTransfer } from "./multipart-transfer";
import { PartIntegrityCheck } from "./part-integrity";
import { DEFAULT_PART_SIZE } from "./part-plan";
import { PartScheduler } from "./part-scheduler";
import { PartSender } from "./part-sender";
import { ProgressTracker } from "./progress";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retry";
import { checkRetryPolicy, describe, RetryBudget, withRetries } from "./retry-budget";
import { SinglePutTransfer } from "./single-put-transfer";
import type { Transfer, UploadContext } from "./transfer";
import { defaultTransport, type PartTransport } from "./transport";
import type { UploadOptions, UploadResult, UploadTask } from "./upload-options";
import type { UploadSource } from "./upload-source";

export { planForUpload } from "./part-plan";
export type { PartState, UploadOptions, UploadResult, UploadTask } from "./upload-options";

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
      return run.scheduler.paused;
    },
    done,
    pause: () => run.scheduler.pause(),
    resume: () => run.scheduler.resume(),
    then: (onFulfilled, onRejected) => done.then(onFulfilled, onRejected),
  };
}

/**
 * One upload: opens the source, picks the transfer (a single PUT for a file of one part, else multipart; or the upload
 * `requestKey` names), has the scheduler send the parts not stored yet, completes, and on failure or cancel leaves
 * nothing open on the gateway that cannot be continued.
 */
class UploadRun {
  readonly scheduler: PartScheduler;
  private readonly api: ApiClient;
  private readonly retry: RetryPolicy;
  private readonly transport: PartTransport;
  private readonly cancel = new AbortController();
  private transfer: Transfer | undefined;
  /** Set as soon as the upload is known (a resume's key, a start's reply), before its transfer is ready. */
  private knownRequestKey: string | undefined;

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
    this.retry = checkRetryPolicy({
      ...DEFAULT_RETRY_POLICY,
      ...options.retry,
      ...(options.retryForMs !== undefined ? { retryForMs: options.retryForMs } : {}),
    });
    this.transport = options.transport ?? defaultTransport(options.fetch);
    this.scheduler = new PartScheduler(this.cancel.signal);
    options.signal?.addEventListener("abort", () => this.cancel.abort(options.signal?.reason), { once: true });
  }

  get requestKey(): string | undefined {
    return this.transfer?.requestKey ?? this.knownRequestKey;
  }

  async start(): Promise<UploadResult> {
    try {
      const source: UploadSource = await this.opening;
      const ctx = this.context(source);
      const transfer = await this.begin(ctx);
      this.transfer = transfer;
      const { plan, storedAtStart } = transfer;
      const progress = new ProgressTracker(plan.contentLength, plan.partsNumber, this.options.onProgress);
      const parts = new Map(storedAtStart.map((p) => [p.partNumber, p.eTag]));
      progress.alreadyDone(
        storedAtStart.reduce((sum, p) => sum + p.size, 0),
        storedAtStart.length,
      );
      const queue: number[] = [];
      for (let n = 1; n <= plan.partsNumber; n++) {
        if (parts.has(n)) this.options.onPartState?.(n, "done");
        else {
          queue.push(n);
          this.options.onPartState?.(n, "waiting");
        }
      }
      progress.emit(true);

      const partBody = (n: number) => this.partBody(source, transfer, n);
      const sender = new PartSender(ctx, transfer, this.scheduler, this.transport, progress, partBody);
      await this.scheduler.run(queue, this.options.concurrency ?? 4, async (n, next) => {
        // Hash the parts next in line while this one is sent: Content-MD5 is a header, so a part's MD5 must be ready
        // before its PUT starts, and computing it only then would leave the connection idle meanwhile. This part
        // first: hashes run one at a time in order of asking, and it is the one whose connection is waiting.
        for (const part of [n, ...next]) ctx.integrity.prepare(part, transfer.storesOnce);
        parts.set(n, await sender.send(n));
        ctx.integrity.forget(n);
      });

      const completed = [...parts.entries()]
        .sort(([a], [b]) => a - b)
        .map(([partNumber, eTag]) => ({ partNumber, eTag }));
      // The last moment to find that the file changed under the upload: after this, what was sent is the file.
      await source.checkUnchanged?.();
      const verification = await transfer.complete(completed);
      return {
        requestKey: transfer.requestKey,
        uploadId: transfer.uploadId,
        transfer: transfer.kind,
        size: plan.contentLength,
        partsNumber: plan.partsNumber,
        partSize: plan.partSize,
        fileName: ctx.startFields.fileName,
        mimeType: ctx.startFields.mimeType,
        partsSent: plan.partsNumber - storedAtStart.length,
        ...(verification ? { verification } : {}),
      };
    } catch (error) {
      throw await this.failed(error);
    }
  }

  /** The error the upload fails with, once whatever of it must not stay open on the gateway is aborted. */
  private async failed(error: unknown): Promise<Error> {
    const requestKey = this.requestKey;
    if (this.cancel.signal.aborted) {
      this.scheduler.abortAll(this.cancel.signal.reason);
      // Cancelled: leave nothing behind on the server. Best effort; the upload is cancelled either way.
      if (requestKey) await this.api.abort(this.options.projectId, requestKey).catch(() => undefined);
      return new UploadAbortedError(requestKey);
    }
    // The gateway refused the stored file: the upload is over on its side (rejected, its file removed), so there is
    // nothing to abort and nothing to send again.
    const rejected = await contentRejection(error, this.api, this.options.projectId, requestKey);
    if (rejected) return rejected;
    if (error instanceof FileChangedError) {
      // Its parts are of a file that no longer is: nothing to continue. Best effort, as for a cancel.
      if (requestKey) await this.api.abort(this.options.projectId, requestKey).catch(() => undefined);
      return new FileChangedError(error.message, requestKey, { cause: error });
    }
    if (error instanceof UploadFailedError) return error;
    return new UploadFailedError(describe(error), requestKey, { cause: error });
  }

  /** Starts the upload, or picks up `requestKey`: a multipart upload, or a single PUT for a file of one part. */
  private async begin(ctx: UploadContext): Promise<Transfer> {
    const { requestKey } = this.options;
    if (requestKey) {
      this.knownRequestKey = requestKey;
      try {
        return await MultipartTransfer.resume(ctx, requestKey);
      } catch (error) {
        if (!hasCode(error, "NOT_A_MULTIPART_UPLOAD")) throw error;
        this.knownRequestKey = undefined; // a single PUT's upload is started again, as a new one (or found completed)
        return SinglePutTransfer.startAgain(ctx, requestKey);
      }
    }
    if (this.fitsOnePut(ctx.source)) return SinglePutTransfer.start(ctx);
    return MultipartTransfer.start(ctx);
  }

  /** Whether the file goes up with one PUT: at most one part's size (and S3's single-PUT limit), unless turned off. */
  private fitsOnePut(source: UploadSource): boolean {
    const onePart = Math.min(this.options.partSize ?? DEFAULT_PART_SIZE, MAX_SINGLE_PUT_SIZE);
    return this.options.singlePut !== false && source.size <= onePart;
  }

  private context(source: UploadSource): UploadContext {
    const { options } = this;
    const signal = this.cancel.signal;
    const startFields: SinglePutUploadBody = {
      fileName: options.fileName ?? ((source as Partial<File>).name || "upload"),
      contentLength: String(source.size),
      mimeType: options.mimeType ?? (source.type || "application/octet-stream"),
      presignedUrlExpiryTimeHours: options.presignedUrlExpiryTimeHours,
      enableDuplicateCheck: options.enableDuplicateCheck,
      fileHash: options.fileHash,
      metadata: options.metadata,
    };
    const integrity = new PartIntegrityCheck(
      options.verifyParts ?? true,
      options.hashPart ?? defaultPartHasher(),
      this.transport.hashesWhileSending === true,
      (n) => this.partBody(source, this.transfer!, n),
    );
    const budget = (what: string) =>
      new RetryBudget(this.retry, what, { signal, requestKey: () => this.requestKey, onRetry: options.onRetry });
    return {
      api: this.api,
      options,
      source,
      signal,
      integrity,
      startFields,
      started: (info) => {
        this.knownRequestKey = info.requestKey;
        options.onStart?.(info);
      },
      budget,
      call: (what, call) => withRetries(budget(what), what, call),
    };
  }

  /** A part's bytes, as planned: a source that gives other than the planned size has changed (`FileChangedError`). */
  private partBody(source: UploadSource, { plan, requestKey }: Transfer, partNumber: number): Blob {
    const start = (partNumber - 1) * plan.partSize;
    const end = Math.min(start + plan.partSize, plan.contentLength);
    const body = source.slice(start, end);
    if (body.size !== end - start) {
      const why = `Part ${partNumber} of the file has ${body.size} bytes, not the ${end - start} planned: the file changed.`;
      throw new FileChangedError(why, requestKey);
    }
    return body;
  }
}

/** Whether `error` (or the gateway error it wraps) carries `code`. */
function hasCode(error: unknown, code: ErrorCode): boolean {
  return gatewayErrorOf(error)?.hasCode(code) === true;
}
