import { Logger } from "@nestjs/common";
import type { Verification } from "@upload-gateway/contract";
import { z } from "zod";
import { ApiError } from "../../errors/api-error";
import type { ClaimedEntry, DueIndex } from "../../scheduling/due-index";
import { DueWorker, type DueOutcome } from "../../scheduling/due-worker";
import type { Storage } from "../../storage/storage.port";
import { inspectContent } from "../../verification/content-inspector";
import { sha256Of } from "../../verification/file-hash";
import type { ContentScanner, ScanResult } from "../../verification/scanner";
import { storageByteSource } from "../../verification/storage.byte-source";
import type { DuplicateCheck } from "../duplicate-check";
import type { UploadLifecycle } from "../lifecycle/upload-lifecycle.service";
import type { OpenUploads } from "../open-uploads";
import type { UploadRecord } from "../upload-record";
import type { UploadRecords } from "../upload-records";
import { quarantineRejected } from "./quarantine";
import { judgeContent, type Findings, type NamedScan } from "./verification-policy";

/** What a `completed` upload's verification is until its bytes have been checked. */
export const PENDING: Verification = { state: "pending", detectedMimeType: null };

/** The due index's kind of content checks (`projects/_due/content-check/{dueAt}/{projectId}:{requestKey}`). */
export const VERIFY_KIND = "content-check";

export interface VerificationSettings {
  /** How long complete and `success` wait for a verdict before answering without one. */
  waitMs: number;
  /** How long a claimed job is this process's before another may take it over (a whole-file hash adds to it). */
  leaseMs: number;
  /** The first retry's delay after a failure (a store outage, a scanner's `error`); doubled each time. */
  retryBaseMs?: number;
  /** The longest delay between retries. */
  retryMaxMs?: number;
  /** How long a scanner that cannot decide is retried before the upload is rejected (SCANNER_REJECTED). */
  scannerRetryForMs?: number;
}

/** A content check's payload in the due index: which upload, since when it is retried, and its claims' lease. */
const checkJobSchema = z.object({
  projectId: z.string(),
  requestKey: z.string(),
  firstAddedAt: z.number(),
  leaseMs: z.number().positive().optional(),
  lastError: z.string().optional(),
});
type CheckJob = z.infer<typeof checkJobSchema>;

/** An upload's record as the caller has it, with its version when known (a compare-and-swap then needs no read). */
interface KnownRecord {
  record: UploadRecord;
  version?: string | undefined;
}

/** What a run of a check ends with: the due index's outcome, and the upload's record when the run read or decided it. */
type CheckOutcome = DueOutcome<CheckJob> & { record?: UploadRecord };

/** How often a request waiting for a verdict reads the record. */
const WAIT_POLL_MS = 200;
/** A whole-file hash is given this much lease per second it may take: 32 MiB/s, slower than any store we know. */
const HASH_BYTES_PER_SECOND = 32 * 1024 * 1024;
/** A job for an upload not yet `completed` (its completion in flight) is looked at again this much later. */
const NOT_YET_COMPLETED_DELAY_MS = 5_000;
/** ... and dropped once it is this old: a completion that dies leaves the upload `completing`, retried by a client. */
const NOT_YET_COMPLETED_FOR_MS = 10 * 60_000;
/** Jobs this process began and has not run yet: at most this many are kept. */
const MAX_LOCAL_JOBS = 10_000;
/** Due jobs read per poll (one listing), and how many of them run at once. */
const PAGE = 50;
const CONCURRENCY = 2;

/**
 * The content check of stored uploads, as durable work in the store's due index (scheduling/due-index.ts, kind
 * `content-check`), worked by a `DueWorker` like webhook deliveries and expiries: `begin` schedules the job claimed by
 * this process (one conditional write) before the transition that stores the bytes (`completed`), so that no upload
 * is left unchecked by a process dying between them; `settle` runs it at once in this process and waits a bounded time
 * for its verdict; any replica's poll (`worker`, started by verification.worker.ts) runs the jobs left by others: a
 * lease that ran out (the process died), a failure being retried. A run reads the object by ranged reads
 * (`inspectContent`; the whole of it only for `verifyFileHash`), asks every scanner, judges (verification-policy.ts),
 * and records the verdict by a compare-and-swap on the upload's record: of replicas deciding at once exactly one wins,
 * and it alone reports `upload.verified` or `upload.rejected`. Anything that cannot decide (the store failing, a time
 * limit, a scanner's `error`) is retried with backoff; nothing passes by default.
 */
export class ContentVerification {
  private readonly logger = new Logger("ContentVerification");
  /** Jobs this process scheduled claimed, to run them at once (`settle`), by upload. */
  private readonly ownJobs = new Map<string, ClaimedEntry<CheckJob>>();
  /** Runs the jobs: this process's own at once (`settle`), others' when a poll finds them due. */
  readonly worker: DueWorker<CheckJob, CheckOutcome>;

  constructor(
    private readonly storage: Storage,
    private readonly records: UploadRecords,
    private readonly index: DueIndex,
    private readonly duplicates: DuplicateCheck,
    private readonly openUploads: OpenUploads,
    private readonly lifecycle: Pick<UploadLifecycle, "transitioned" | "retried">,
    private readonly scanners: readonly ContentScanner[],
    private readonly settings: VerificationSettings,
  ) {
    this.worker = new DueWorker(index, VERIFY_KIND, (entry) => this.run(entry), {
      leaseMs: (job) => job?.leaseMs ?? settings.leaseMs,
      concurrency: CONCURRENCY,
      pageSize: PAGE,
      onError: (ref, error) => this.logger.error(`The content check ${ref.id} failed: ${message(error)}`),
      onPollError: (error) => this.logger.warn(`Could not look for content checks to run: ${message(error)}`),
    });
  }

  /**
   * Schedules the upload's job, claimed by this process (which runs it at once in `settle`; if it dies, the lease runs
   * out and another replica takes it); call it before the transition that makes the upload `completed` (pending).
   */
  async begin(upload: UploadRecord): Promise<void> {
    const now = Date.now();
    const leaseMs = this.leaseMs(upload);
    const job: CheckJob = { projectId: upload.projectId, requestKey: upload.requestKey, firstAddedAt: now, leaseMs };
    const entry = await this.index.scheduleClaimed(VERIFY_KIND, localKey(upload, ":"), now, job, leaseMs);
    if (!entry) return; // scheduled already, this very millisecond: a poll runs it
    if (this.ownJobs.size >= MAX_LOCAL_JOBS) this.ownJobs.clear(); // their leases run out: the polls run them
    this.ownJobs.set(localKey(upload), entry);
  }

  /**
   * A `completed` upload written before the check existed (no `verification`): checked now, like a new one. Returns
   * its record, pending.
   */
  async beginLate(record: UploadRecord): Promise<UploadRecord> {
    await this.begin(record);
    const { record: pending } = await this.records.update(record, (current) =>
      current.state === "completed" && current.verification === undefined
        ? { ...current, verification: PENDING, updatedAt: new Date().toISOString() }
        : undefined,
    );
    return pending;
  }

  /**
   * Waits for the verdict on a stored upload, at most the configured wait: runs its job at once when this process
   * began it (the run goes on in the background past the wait; a run that ends undecided is retried later, and not
   * waited for), else reads its record until it is decided. Answers the record as it is then (still pending when the
   * wait ran out); a `rejected` one is thrown as CONTENT_REJECTED. `version`: the record's, when just written (the
   * verdict's compare-and-swap then needs no read).
   */
  async settle(record: UploadRecord, version?: string): Promise<UploadRecord> {
    const deadline = Date.now() + this.settings.waitMs;
    let current: UploadRecord | undefined = record;
    const entry = this.ownJobs.get(localKey(record));
    if (entry && record.verification?.state === "pending") {
      this.ownJobs.delete(localKey(record));
      // Its lease is this process's: no poll (of this replica or another) runs it meanwhile.
      const run = this.worker.runClaimed(entry, (claimed) => this.run(claimed, { record, version }));
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<"waited">(
        (resolve) => (timer = setTimeout(() => resolve("waited"), this.settings.waitMs)),
      );
      const ran = await Promise.race([run, waited]);
      clearTimeout(timer);
      const decided = ran === "waited" ? undefined : ran?.record;
      current = decided ?? (await this.records.read(record.projectId, record.requestKey));
      // Ended undecided (the store failed, a scanner could not decide): retried later, not worth waiting for here.
      if (current?.state === "rejected") throw contentRejected(current);
      if (current) return current;
    }
    while (current && current.state === "completed" && current.verification?.state === "pending") {
      if (Date.now() >= deadline) break;
      await sleep(WAIT_POLL_MS);
      current = await this.records.read(record.projectId, record.requestKey);
    }
    if (!current)
      throw new ApiError({ code: "UPLOAD_NOT_FOUND", field: "requestKey", message: "no such upload in this project" });
    if (current.state === "rejected") throw contentRejected(current);
    return current;
  }

  /** Settles when every run this process started has ended (a clean stop leaves no lease behind). */
  async drain(): Promise<void> {
    await this.worker.settled();
  }

  /**
   * Runs a claimed job; what fails is retried later (never thrown). `known`: the upload's record (and its version),
   * when just read or written.
   */
  private async run(entry: ClaimedEntry<CheckJob>, known?: KnownRecord): Promise<CheckOutcome> {
    const parsed = checkJobSchema.safeParse(entry.payload);
    if (!parsed.success) {
      this.logger.error(`Unreadable content check ${entry.key}: removed`);
      return { done: true };
    }
    try {
      return await this.check(parsed.data, known);
    } catch (error) {
      return this.retryLater(entry, parsed.data, message(error));
    }
  }

  /** The lease a run of this upload's check gets: a whole-file hash adds its reading time. */
  private leaseMs(record: UploadRecord): number {
    const hashing = record.checks?.verifyFileHash ? record.contentLength / HASH_BYTES_PER_SECOND : 0;
    return this.settings.leaseMs + hashing * 1000;
  }

  /** Checks the upload of a job this process holds; throws what cannot decide (the caller retries it later). */
  private async check(job: CheckJob, known?: KnownRecord): Promise<CheckOutcome> {
    const record = known?.record ?? (await this.records.read(job.projectId, job.requestKey));
    if (!record || record.state === "aborted") return { done: true, ...(record ? { record } : {}) };
    if (record.state === "uploading" || (record.state === "completed" && record.verification === undefined)) {
      // Its completion is in flight (the job is added first; for an upload completed before the check existed, its
      // `pending` is being written), or died: a complete or success sent again adds another job.
      if (Date.now() - job.firstAddedAt > NOT_YET_COMPLETED_FOR_MS) return { done: true };
      return { retryAt: Date.now() + NOT_YET_COMPLETED_DELAY_MS };
    }
    if (record.verification?.state !== "pending") {
      // Decided already (by another replica, or by this job before its process died): make sure what followed is done.
      if (record.verification) {
        await this.lifecycle.retried(record.state === "rejected" ? "upload.rejected" : "upload.verified", record);
      }
      if (record.state === "rejected") await this.afterRejected(record);
      return { done: true, record };
    }

    const findings = await this.findings(record);
    const judgement = judgeContent(record.checks ?? {}, findings);
    let verification: Verification;
    if (judgement.outcome === "retry") {
      const retryFor = this.settings.scannerRetryForMs ?? 86_400_000;
      if (Date.now() - job.firstAddedAt < retryFor) throw new Error(judgement.why);
      verification = {
        state: "failed",
        detectedMimeType: findings.inspection.detectedMimeType,
        code: "SCANNER_REJECTED",
        reason: `no scanner verdict after ${Math.round(retryFor / 60_000)} minutes of retries: ${judgement.why}`,
      };
    } else {
      verification = judgement.verification;
    }
    return { done: true, record: await this.decide(record, verification, known?.version) };
  }

  /** Records the verdict by compare-and-swap; the winner reports it; what follows a rejection is done either way. */
  private async decide(record: UploadRecord, verification: Verification, version?: string): Promise<UploadRecord> {
    const failed = verification.state === "failed";
    const { record: after, changed } = await this.records.update(
      record,
      (current) => {
        if (current.state !== "completed" || current.verification?.state !== "pending") return undefined;
        const now = new Date().toISOString();
        const decided: UploadRecord = { ...current, verification, verifiedAt: now, updatedAt: now };
        return failed ? { ...decided, state: "rejected" } : decided;
      },
      version,
    );
    if (changed) {
      await this.lifecycle.transitioned(failed ? "upload.rejected" : "upload.verified", after);
      const what = failed
        ? `rejected (${verification.code}: ${verification.reason})`
        : `verified as ${verification.detectedMimeType}`;
      this.logger.log(`Upload ${after.projectId}/${after.requestKey}: ${what}`);
    }
    if (after.state === "rejected") await this.afterRejected(after);
    return after;
  }

  /**
   * What a rejection leaves: nothing at the object's key (deleted, or moved into quarantine: quarantine.ts), no hash
   * reservation, no open place. What fails throws: the job is retried, and a retry comes here again.
   */
  private async afterRejected(record: UploadRecord): Promise<void> {
    if (record.checks?.quarantine) await quarantineRejected(this.storage, record);
    else await this.storage.deleteObject(record.objectKey);
    if (record.fileHash) await this.duplicates.release(record.projectId, record.fileHash, record.requestKey);
    await this.openUploads.release(record); // completion released it already: a no-op unless that failed
  }

  /** Reads what the policy judges: the inspection, the whole-file hash when asked for, every scanner's verdict. */
  private async findings(record: UploadRecord): Promise<Findings> {
    // Its size is known: every completion checks the stored object's against it.
    const source = await storageByteSource(this.storage, record.objectKey, record.contentLength);
    if (!source) throw new Error(`the object ${record.objectKey} is not in the store`);
    const inspection = await inspectContent(source);
    const sha256 = record.checks?.verifyFileHash
      ? await sha256Of(this.storage, record.objectKey, record.contentLength)
      : undefined;
    const scans: NamedScan[] = [];
    for (const scanner of this.scanners) {
      let result: ScanResult;
      try {
        result = await scanner.scan({ size: source.size, read: (offset, length) => source.read(offset, length) });
      } catch (error) {
        result = { verdict: "error", message: message(error) };
      }
      scans.push({ ...result, scanner: scanner.name });
      if (result.verdict === "infected" || result.verdict === "rejected") break;
    }
    return { declaredMimeType: record.mimeType, inspection, sha256, scans };
  }

  /** When the job is tried again: exponential backoff with jitter from its attempts so far. */
  private retryLater(entry: ClaimedEntry<CheckJob>, job: CheckJob, why: string): CheckOutcome {
    const base = this.settings.retryBaseMs ?? 1000;
    const max = this.settings.retryMaxMs ?? 300_000;
    const delay = Math.min(base * 2 ** entry.attempts, max) * (0.5 + Math.random() / 2);
    const upload = `${job.projectId}/${job.requestKey}`;
    const attempt = entry.attempts + 1;
    const seconds = Math.round(delay / 1000);
    this.logger.warn(`The check of ${upload} could not decide (attempt ${attempt}): ${why}; next in ${seconds} s`);
    // A reschedule that fails (the store is still down) leaves the entry leased: it is taken again once that runs out.
    return { retryAt: Date.now() + delay, payload: { ...job, lastError: why.slice(0, 500) } };
  }
}

/** 422 CONTENT_REJECTED for a rejected upload, naming what was declared and what was found. */
export function contentRejected(record: UploadRecord): ApiError {
  const verification = record.verification;
  const reason = verification?.reason ?? "its content failed the check";
  return new ApiError({
    code: "CONTENT_REJECTED",
    field: "requestKey",
    message: verification?.code ? `${verification.code}: ${reason}` : reason,
  });
}

/** 409 VERIFICATION_PENDING: the check has not decided yet (retryable, with `Retry-After`). */
export function verificationPending(): ApiError {
  return new ApiError({
    code: "VERIFICATION_PENDING",
    field: "requestKey",
    message: "the stored file's content check has not finished yet; send this request again shortly",
  });
}

/** An upload's name in this process's map (`/`) and its job's id in the due index (`:`, which ids allow). */
function localKey(upload: Pick<UploadRecord, "projectId" | "requestKey">, separator = "/"): string {
  return `${upload.projectId}${separator}${upload.requestKey}`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
