import type { PartPlan, StartUploadResult, Verification } from "@upload-gateway/contract";
import { UploadFailedError } from "./errors";
import { newIdempotencyKey } from "./idempotency-key";
import { planForUpload } from "./part-plan";
import type { StoredPart, Transfer, UploadContext } from "./transfer";

/**
 * A multipart upload: started (`POST …/multipart`) or picked up (`resume`), its part URLs renewed through the resume
 * endpoint (which also reports the parts the store holds), completed with the parts' ETags.
 */
export class MultipartTransfer implements Transfer {
  readonly kind = "multipart";
  readonly putOptions = {};
  readonly storesOnce = false;
  readonly uploadId: string;
  readonly plan: PartPlan;
  private urls: Map<number, string>;
  /** Parts the store reported at the last resume call. */
  private storedParts = new Map<number, { eTag: string; size: number }>();
  private refreshing: { epoch: number; done: Promise<void> } | undefined;
  /** Renewals asked so far; and, per part whose URL was forgotten, how many had been asked then. */
  private epoch = 0;
  private readonly forgotten = new Map<number, number>();

  private constructor(
    private readonly ctx: UploadContext,
    readonly requestKey: string,
    { uploadId, partSize, partsNumber, presignedUrl, integrity }: StartUploadResult,
    readonly storedAtStart: StoredPart[],
  ) {
    const size = ctx.source.size;
    this.uploadId = uploadId;
    ctx.integrity.integrity = integrity;
    this.plan = { partSize, partsNumber, contentLength: size, lastPartSize: size - (partsNumber - 1) * partSize };
    this.urls = new Map(presignedUrl.map((u) => [u.partNumber, u.presignedUrl]));
    ctx.started({ requestKey, uploadId, partsTotal: partsNumber, partSize });
  }

  /** Starts a new multipart upload of the file. */
  static async start(ctx: UploadContext): Promise<MultipartTransfer> {
    const plan = planForUpload(ctx.source.size, ctx.options.partSize);
    // One key for this start and all its retries: a retry whose first try's reply was lost gets that upload back.
    const idempotencyKey = newIdempotencyKey();
    const started = await ctx.call("start the upload", () =>
      ctx.api.start(
        ctx.options.projectId,
        { ...ctx.startFields, partsNumber: plan.partsNumber },
        { signal: ctx.signal, idempotencyKey },
      ),
    );
    return new MultipartTransfer(ctx, started.requestKey, started, []);
  }

  /** Picks up the multipart upload `requestKey` names (its gateway error, e.g. `NOT_A_MULTIPART_UPLOAD`, is thrown). */
  static async resume(ctx: UploadContext, requestKey: string): Promise<MultipartTransfer> {
    const { projectId, presignedUrlExpiryTimeHours } = ctx.options;
    const resumed = await ctx.call("resume the upload", () =>
      ctx.api.resume(projectId, { requestKey, presignedUrlExpiryTimeHours }, { signal: ctx.signal }),
    );
    if (Number(resumed.contentLength) !== ctx.source.size) {
      throw new UploadFailedError(
        `This file has ${ctx.source.size} bytes but upload ${requestKey} is for ${resumed.contentLength}: ` +
          "pick the same file to resume.",
        requestKey,
      );
    }
    return new MultipartTransfer(ctx, requestKey, resumed, resumed.uploadedParts);
  }

  async urlOf(partNumber: number): Promise<string | undefined> {
    // Only a renewal asked after the URL was forgotten will do: one already on its way may predate what made the part
    // forget it (an attempt stored it, its reply lost), and would hand out a URL to send a stored part again.
    while (!this.urls.has(partNumber)) {
      const renewal = this.refreshUrls();
      await renewal.done;
      if (renewal.epoch > (this.forgotten.get(partNumber) ?? 0)) break;
    }
    return this.urls.get(partNumber);
  }

  forgetUrl(partNumber: number): void {
    this.urls.delete(partNumber);
    this.forgotten.set(partNumber, this.epoch);
  }

  storedPart(partNumber: number): { eTag: string; size: number } | undefined {
    return this.storedParts.get(partNumber);
  }

  async complete(parts: { partNumber: number; eTag: string }[]): Promise<Verification | undefined> {
    const { api, options, signal } = this.ctx;
    await this.ctx.call("complete the upload", () =>
      api.complete(options.projectId, { requestKey: this.requestKey, parts }, { signal }),
    );
    // The content check's verdict: `success` answers once the gateway has checked the stored file (while it runs,
    // VERIFICATION_PENDING, retried after its Retry-After within the budget; a refused file, CONTENT_REJECTED).
    const done = await this.ctx.call("get the content check's verdict", () =>
      api.downloadUrl(options.projectId, this.requestKey, { signal }),
    );
    return done.verification;
  }

  /** Fresh URLs for every part not yet stored, from the resume endpoint; one call however many parts ask at once. */
  private refreshUrls(): { epoch: number; done: Promise<void> } {
    if (this.refreshing) return this.refreshing;
    const { api, options, signal, integrity } = this.ctx;
    const body = { requestKey: this.requestKey, presignedUrlExpiryTimeHours: options.presignedUrlExpiryTimeHours };
    const epoch = ++this.epoch;
    const done = this.ctx
      .call("renew the part URLs", () => api.resume(options.projectId, body, { signal }))
      .then((resumed) => {
        for (const { partNumber, presignedUrl } of resumed.presignedUrl) {
          // Not for a part that forgot its URL while this renewal was on its way: it waits for the next.
          if ((this.forgotten.get(partNumber) ?? 0) < epoch) this.urls.set(partNumber, presignedUrl);
        }
        integrity.integrity = resumed.integrity ?? integrity.integrity;
        this.storedParts = new Map(resumed.uploadedParts.map((p) => [p.partNumber, p]));
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    this.refreshing = { epoch, done };
    return this.refreshing;
  }
}
