import { NetworkError, UploadFailedError } from "./errors";
import { isDigestRefusal } from "./part-hash";
import type { PartScheduler } from "./part-scheduler";
import type { ProgressTracker } from "./progress";
import { describe, type RetryBudget, type Unreachable } from "./retry-budget";
import type { Transfer, UploadContext } from "./transfer";
import type { PartResponse, PartTransport } from "./transport";

const MAX_RESIGNS_PER_PART = 3;

/**
 * Sends one part until it is stored, whatever the transfer: the PUT through the transport, a stalled attempt
 * abandoned, a refused URL renewed, a corrupted part sent again, what can succeed later retried within the part's
 * budget. After an outage (two attempts in a row without an answer) the gateway is asked what the store holds before
 * the part is sent again, so that nothing stored is sent twice.
 */
export class PartSender {
  constructor(
    private readonly ctx: UploadContext,
    private readonly transfer: Transfer,
    private readonly scheduler: PartScheduler,
    private readonly transport: PartTransport,
    private readonly progress: ProgressTracker,
    private readonly partBody: (partNumber: number) => Blob,
  ) {}

  /** Sends part `partNumber` until it is stored; returns its ETag. */
  async send(partNumber: number): Promise<string> {
    const { options, integrity, signal } = this.ctx;
    const transfer = this.transfer;
    const offset = (partNumber - 1) * transfer.plan.partSize;
    const body = this.partBody(partNumber);
    const budget = this.ctx.budget(`part ${partNumber}`);
    let resigns = 0;
    let noAnswers = 0;
    for (;;) {
      const url = await transfer.urlOf(partNumber);
      if (!url) {
        // No fresh URL: the store already has this part (an earlier attempt's reply was lost). Use it if it is ours.
        const stored = transfer.storedPart(partNumber);
        if (stored && (await integrity.storedPartIsOurs(partNumber, stored, body.size))) {
          this.partStored(partNumber, body.size);
          return stored.eTag;
        }
        throw new UploadFailedError(`The gateway gave no URL for part ${partNumber}.`, transfer.requestKey);
      }
      const { md5, contentMd5 } = await integrity.digestsFor(partNumber, transfer.storesOnce);
      // A retry is a new PUT: it waits while paused, as new parts do. (The first attempt waited before it was taken.)
      await this.scheduler.whilePaused();

      options.onPartState?.(partNumber, budget.failed > 0 ? "retrying" : "sending");
      const attempt = this.scheduler.attempt(partNumber);
      const stall = new StallTimer(attempt.controller, this.stallLimit(body.size));
      let outcome: PartResponse | { error: unknown };
      try {
        outcome = await this.transport.send({
          url,
          body,
          offset,
          signal: attempt.controller.signal,
          contentMd5,
          ...transfer.putOptions,
          onProgress: (loaded) => {
            stall.touch();
            this.progress.partProgress(partNumber, loaded);
            options.onPartProgress?.(partNumber, loaded, body.size);
          },
        });
      } catch (error) {
        outcome = { error };
      } finally {
        stall.clear();
        attempt.release();
      }
      this.progress.partReset(partNumber);
      const stored = "status" in outcome && outcome.status >= 200 && outcome.status < 300;
      // An attempt that did not store the part starts over from its first byte.
      if (!stored) options.onPartProgress?.(partNumber, 0, body.size);
      if (signal.aborted) throw signal.reason;

      if ("error" in outcome) {
        if (!(outcome.error instanceof NetworkError) && !stall.fired) throw outcome.error;
        // One attempt without an answer is tried again at the same URL (a 403 or 412 then tells if it was stored);
        // from the second, an outage: the next attempt first asks the gateway which parts the store holds.
        noAnswers += 1;
        if (noAnswers >= 2 && !transfer.storesOnce) transfer.forgetUrl(partNumber);
        const why = stall.fired ? "stalled" : describe(outcome.error);
        await this.retry(budget, partNumber, `part ${partNumber}: ${why}`, { unreachable: "store" });
        continue;
      }
      noAnswers = 0;

      const { status, eTag, retryAfter, sentMd5, errorBody } = outcome;
      if (stored) {
        if (integrity.eTagContradicts(eTag, sentMd5 ?? md5)) {
          // The store received other bytes than we sent: send the part again.
          await this.retry(budget, partNumber, `part ${partNumber}: its ETag does not match its MD5`);
          continue;
        }
        if (!eTag) {
          const why = `Part ${partNumber} was stored but its ETag could not be read (is ETag exposed by CORS?).`;
          throw new UploadFailedError(why, transfer.requestKey);
        }
        this.partStored(partNumber, body.size);
        return eTag;
      }
      if (status === 412 && transfer.preconditionFailed) {
        const found = transfer.preconditionFailed(budget.failed);
        if (!found.stored) throw found.error;
        this.partStored(partNumber, body.size);
        return found.eTag;
      }
      if (contentMd5 && isDigestRefusal(status, errorBody)) {
        // The store refused bytes that do not match their Content-MD5: they were corrupted on the way. Send them again.
        const why = `part ${partNumber}: the store refused it, its bytes do not match their MD5`;
        await this.retry(budget, partNumber, why);
        continue;
      }
      if (status === 403 && resigns < MAX_RESIGNS_PER_PART) {
        // Expired or refused URL: get a fresh one through the gateway rather than retry the same one.
        resigns += 1;
        transfer.forgetUrl(partNumber);
        continue;
      }
      if (status === 408 || status === 429 || status >= 500) {
        const unreachable = status >= 500 ? "store" : undefined;
        const why = `part ${partNumber}: storage answered ${status}`;
        await this.retry(budget, partNumber, why, { retryAfter, unreachable });
        continue;
      }
      throw new UploadFailedError(
        status === 404
          ? `Part ${partNumber} was refused with 404: the upload no longer exists (aborted, or completed elsewhere).`
          : `Part ${partNumber} was refused with HTTP ${status}.`,
        transfer.requestKey,
      );
    }
  }

  private async retry(
    budget: RetryBudget,
    partNumber: number,
    reason: string,
    detail: { retryAfter?: string | null; unreachable?: Unreachable } = {},
  ): Promise<void> {
    await budget.retryAfterFailure(reason, detail, () => this.ctx.options.onPartState?.(partNumber, "retrying"));
  }

  private partStored(partNumber: number, size: number): void {
    this.progress.partDone(partNumber, size);
    this.ctx.options.onPartProgress?.(partNumber, size, size);
    this.ctx.options.onPartState?.(partNumber, "done");
  }

  private stallLimit(size: number): number {
    const base = this.ctx.options.stallTimeoutMs ?? 60_000;
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
