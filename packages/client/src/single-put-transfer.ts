import type { PartPlan, SinglePutUploadBody, SinglePutUploadResult, Verification } from "@upload-gateway/contract";
import { isAbort } from "./api-client";
import { NetworkError, UploadFailedError } from "./errors";
import { newIdempotencyKey } from "./idempotency-key";
import { md5OfETag } from "./part-hash";
import { onePartPlan } from "./part-plan";
import { withRetries } from "./retry-budget";
import type { PreconditionOutcome, StoredPart, Transfer, UploadContext } from "./transfer";
import type { PartRequest } from "./transport";

/**
 * A file of at most one part sent with one PUT: started with `POST /url` (whose Idempotency-Key, sent again, signs a
 * fresh URL for the same upload), PUT once (`If-None-Match: *`: a 412 after a lost reply means our earlier attempt
 * stored it), completed by asking for its download URL, which has the gateway check the stored size.
 */
export class SinglePutTransfer implements Transfer {
  readonly kind = "single-put";
  readonly uploadId = "";
  readonly storesOnce = true;
  readonly plan: PartPlan;
  /** The headers the gateway listed for the PUT (absent from gateways older than the field). */
  private headers: Record<string, string> | undefined;
  private url: string | undefined;
  private refreshing: Promise<void> | undefined;
  /**
   * Set when a retried PUT found the file stored already (412: its earlier attempt stored it, the reply was lost):
   * the stored file's MD5 is compared with ours once the gateway has confirmed its size.
   */
  private storedByEarlierAttempt = false;

  private constructor(
    private readonly ctx: UploadContext,
    readonly requestKey: string,
    /** The start's body and key, sent again (same key) to sign a fresh URL; none for an upload completed already. */
    private readonly signing: { body: SinglePutUploadBody; idempotencyKey: string } | undefined,
    url: string | undefined,
    readonly storedAtStart: StoredPart[],
  ) {
    const size = ctx.source.size;
    this.plan = onePartPlan(size);
    this.url = url;
    ctx.started({ requestKey, uploadId: "", partsTotal: 1, partSize: size });
  }

  /** Starts a single-PUT upload (`POST /url`): the plan is one part, the whole file, sent to the one URL. */
  static async start(ctx: UploadContext): Promise<SinglePutTransfer> {
    // One key for the start, its retries and every later re-signing of its URL: they all answer the same upload.
    const signing = { body: ctx.startFields, idempotencyKey: newIdempotencyKey() };
    const started = await sign(ctx, signing, "start the upload");
    ctx.integrity.integrity = started.integrity;
    const transfer = new SinglePutTransfer(ctx, started.requestKey, signing, started.url, []);
    transfer.headers = started.headers;
    return transfer;
  }

  /**
   * Continuing a single-PUT upload (`requestKey` names one): its URL cannot be signed again without its start's key,
   * and a file of one part has nothing stored to keep, so it is sent again as a new upload and the old one is aborted.
   * One that is already completed with this file's size is done.
   */
  static async startAgain(ctx: UploadContext, requestKey: string): Promise<SinglePutTransfer> {
    const { api, options, signal, source } = ctx;
    const details = await ctx.call("look up the upload", () => api.get(options.projectId, requestKey, { signal }));
    if (details.state === "completed" && Number(details.contentLength) === source.size) {
      const stored = [{ partNumber: 1, eTag: "", size: source.size }];
      return new SinglePutTransfer(ctx, requestKey, undefined, undefined, stored);
    }
    if (details.state === "uploading") {
      await api.abort(options.projectId, requestKey, { signal }).catch(() => undefined);
    }
    return SinglePutTransfer.start(ctx);
  }

  get putOptions(): Pick<PartRequest, "headers" | "contentType" | "putOnce"> {
    return this.headers ? { headers: this.headers } : { contentType: this.ctx.startFields.mimeType, putOnce: true };
  }

  async urlOf(): Promise<string | undefined> {
    if (this.url === undefined) await this.refreshUrl();
    return this.url;
  }

  forgetUrl(): void {
    this.url = undefined;
  }

  storedPart(): undefined {
    return undefined;
  }

  preconditionFailed(failures: number): PreconditionOutcome {
    // The URL stores once (If-None-Match: *) and a file is stored at it already. After a failed attempt that is ours:
    // the attempt stored it but its reply was lost. The gateway confirms its size when completing; its MD5 is compared
    // then, where the store's ETag tells it. Before any attempt of ours, someone else's.
    if (failures === 0) {
      const error = new UploadFailedError(
        "The store already holds a file for this upload, which this upload did not send (412): its URL was used by " +
          "someone else.",
        this.requestKey,
      );
      return { stored: false, error };
    }
    this.storedByEarlierAttempt = true;
    return { stored: true, eTag: "" };
  }

  /**
   * Completes the upload: asking for its download URL has the gateway check the stored file and record it (and, on a
   * gateway that checks content, answer once that check is done: its findings are returned).
   */
  async complete(): Promise<Verification | undefined> {
    const { api, options, signal } = this.ctx;
    const done = await this.ctx.call("complete the upload", () =>
      api.downloadUrl(options.projectId, this.requestKey, { signal }),
    );
    if (this.storedByEarlierAttempt) await this.checkStoredFile(done.downloadPath);
    return done.verification;
  }

  /** A fresh URL for the upload, signed by sending its start again with the same key. */
  private refreshUrl(): Promise<void> {
    if (!this.signing) return Promise.resolve();
    this.refreshing ??= sign(this.ctx, this.signing, "renew the upload's URL")
      .then((signed) => {
        this.url = signed.url;
        this.headers = signed.headers ?? this.headers;
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  /**
   * Compares the MD5 of a file found stored (see `storedByEarlierAttempt`) with ours, through the ETag of its download,
   * where ETags are MD5s and parts are verified; the gateway checked its size already. A mismatch fails.
   */
  private async checkStoredFile(downloadPath: string): Promise<void> {
    const { integrity, options, signal } = this.ctx;
    if (!integrity.verify || !integrity.eTagIsMd5) return;
    const ours = await integrity.md5Of(1);
    const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    const response = await withRetries(this.ctx.budget("check the stored file"), "check the stored file", async () => {
      try {
        return await fetchImpl(downloadPath, { signal });
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
        `The file stored for this upload is not this file (its MD5 is ${stored}, this file's ${ours}): its URL was ` +
          "used by someone else.",
        this.requestKey,
      );
    }
  }
}

/** The single-PUT start, sent with its key: the first time it makes the upload, later it signs a fresh URL for it. */
function sign(
  ctx: UploadContext,
  { body, idempotencyKey }: { body: SinglePutUploadBody; idempotencyKey: string },
  what: string,
): Promise<SinglePutUploadResult> {
  const { api, options, signal } = ctx;
  return ctx.call(what, () => api.startSinglePut(options.projectId, body, { signal, idempotencyKey }));
}
