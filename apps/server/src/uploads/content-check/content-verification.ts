import { randomUUID } from "node:crypto";
import { Logger } from "@nestjs/common";
import type { Verification } from "@upload-gateway/contract";
import { ApiError } from "../../errors/api-error";
import type { Storage } from "../../storage/storage.port";
import { inspectContent } from "../../verification/content-inspector";
import { sha256Of } from "../../verification/file-hash";
import type { ContentScanner, ScanResult } from "../../verification/scanner";
import { storageByteSource } from "../../verification/storage.byte-source";
import type { DuplicateCheck } from "../duplicate-check";
import type { UploadLifecycle } from "../lifecycle/upload-lifecycle.service";
import type { OpenUploads } from "../open-uploads";
import { quarantineKey } from "../upload-keys";
import type { UploadRecord } from "../upload-record";
import type { UploadRecords } from "../upload-records";
import type { ClaimedJob, JobTarget, JobTicket, VerificationJobQueue } from "./verification-jobs";
import { judgeContent, type Findings, type NamedScan } from "./verification-policy";

/** What a `completed` upload's verification is until its bytes have been checked. */
export const PENDING: Verification = { state: "pending", detectedMimeType: null };

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

/** How often a request waiting for a verdict reads the record. */
const WAIT_POLL_MS = 200;
/** A whole-file hash is given this much lease per second it may take: 32 MiB/s, slower than any store we know. */
const HASH_BYTES_PER_SECOND = 32 * 1024 * 1024;
/** A job for an upload not yet `completed` (its completion in flight) is looked at again this much later. */
const NOT_YET_COMPLETED_DELAY_MS = 5_000;
/** ... and dropped once it is this old: a completion that dies leaves the upload `completing`, retried by a client. */
const NOT_YET_COMPLETED_FOR_MS = 10 * 60_000;
/** Tickets of jobs this process began and has not run yet: at most this many are kept. */
const MAX_LOCAL_TICKETS = 10_000;

/**
 * The content check of stored uploads, as a durable job (see verification-jobs.ts): `begin` adds the job before the
 * transition that stores the bytes (`completed`), so that no upload is left unchecked by a process dying between
 * them; `settle` runs it at once in this process and waits a bounded time for its verdict; any replica's poller
 * (verification.worker.ts) runs the jobs left by others. A run reads the object by ranged reads (`inspectContent`;
 * the whole of it only for `verifyFileHash`), asks every scanner, judges (verification-policy.ts), and records the
 * verdict by a compare-and-swap on the upload's record: of replicas deciding at once exactly one wins, and it alone
 * reports `upload.verified` or `upload.rejected`. Anything that cannot decide (the store failing, a time limit, a
 * scanner's `error`) is retried with backoff; nothing passes by default.
 */
export class ContentVerification {
  private readonly logger = new Logger("ContentVerification");
  private readonly owner = randomUUID();
  /** Jobs this process added claimed, to run them at once (`settle`), by upload. */
  private readonly ownJobs = new Map<string, ClaimedJob>();
  private readonly running = new Map<string, Promise<UploadRecord | undefined>>();

  constructor(
    private readonly storage: Storage,
    private readonly records: UploadRecords,
    private readonly queue: VerificationJobQueue,
    private readonly duplicates: DuplicateCheck,
    private readonly openUploads: OpenUploads,
    private readonly lifecycle: Pick<UploadLifecycle, "transitioned" | "retried">,
    private readonly scanners: readonly ContentScanner[],
    private readonly settings: VerificationSettings,
  ) {}

  /**
   * Adds the upload's job, claimed by this process (which runs it at once in `settle`; if it dies, the lease runs out
   * and another replica takes it); call it before the transition that makes the upload `completed` (pending).
   */
  async begin(upload: UploadRecord): Promise<void> {
    const now = Date.now();
    const leaseUntil = now + this.leaseMs(upload);
    const target = { projectId: upload.projectId, requestKey: upload.requestKey };
    const ticket = await this.queue.add(target, now, { owner: this.owner, until: leaseUntil });
    if (this.ownJobs.size >= MAX_LOCAL_TICKETS) this.ownJobs.clear(); // their leases run out: the pollers run them
    this.ownJobs.set(localKey(upload), { ...ticket, attempts: 0, firstAddedAt: now, leaseUntil });
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
   * wait ran out); a `rejected` one is thrown as CONTENT_REJECTED.
   */
  async settle(record: UploadRecord): Promise<UploadRecord> {
    const deadline = Date.now() + this.settings.waitMs;
    let current: UploadRecord | undefined = record;
    const job = this.ownJobs.get(localKey(record));
    if (job && record.verification?.state === "pending") {
      this.ownJobs.delete(localKey(record));
      // Its own run, even if this process's poller looked at the job meanwhile (and, finding it leased, did nothing).
      const run = this.track(job, () => this.checkClaimed(job, record), true);
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<"waited">(
        (resolve) => (timer = setTimeout(() => resolve("waited"), this.settings.waitMs)),
      );
      const ran = await Promise.race([run, waited]);
      clearTimeout(timer);
      current =
        ran === "waited" || ran === undefined ? await this.records.read(record.projectId, record.requestKey) : ran;
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

  /** Runs the due jobs of every project (one listing), up to `limit`, `concurrency` at a time. */
  async runDue(limit: number, concurrency: number, stopped: () => boolean = () => false): Promise<number> {
    const due = (await this.queue.due(Date.now(), limit)).filter(
      // Not the jobs this process is running, nor those it added to run at once (`settle` runs them).
      (ticket) => !this.running.has(ticket.key) && !this.ownJobs.has(localKey(ticket)),
    );
    let ran = 0;
    const workers = Array.from({ length: concurrency }, async () => {
      for (let ticket = due.shift(); ticket !== undefined && !stopped(); ticket = due.shift()) {
        await this.run(ticket);
        ran++;
      }
    });
    await Promise.all(workers);
    return ran;
  }

  /** Settles when every run this process started has ended (a clean stop leaves no lease behind). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
  }

  /** Claims the job and runs it; never throws (what fails is logged and retried). Answers the record after it. */
  run(ticket: JobTicket): Promise<UploadRecord | undefined> {
    return this.track(ticket, async () => {
      const record = await this.records.read(ticket.projectId, ticket.requestKey);
      const job = await this.queue.claim(ticket, this.owner, record ? this.leaseMs(record) : this.settings.leaseMs);
      if (!job) return undefined; // another replica holds it, or it is done
      return this.checkClaimed(job, record);
    });
  }

  /** Runs `work` for a job once at a time in this process, logging what it throws. */
  private track(
    ticket: JobTicket,
    work: () => Promise<UploadRecord | undefined>,
    after = false,
  ): Promise<UploadRecord | undefined> {
    const already = this.running.get(ticket.key);
    if (already && !after) return already;
    // `after`: once the run in progress has ended, this one runs as well (a second look at a decided job is cheap).
    const running = (already ? already.then(work) : work())
      .catch((error: unknown) => {
        this.logger.error(`The content check of ${ticket.projectId}/${ticket.requestKey} failed: ${message(error)}`);
        return undefined;
      })
      .finally(() => {
        if (this.running.get(ticket.key) === running) this.running.delete(ticket.key);
      });
    this.running.set(ticket.key, running);
    return running;
  }

  /** The lease a run of this upload's check gets: a whole-file hash adds its reading time. */
  private leaseMs(record: UploadRecord): number {
    const hashing = record.checks?.verifyFileHash ? record.contentLength / HASH_BYTES_PER_SECOND : 0;
    return this.settings.leaseMs + hashing * 1000;
  }

  /** Checks a job this process holds; what cannot decide is retried later. The record after it, when decided. */
  private async checkClaimed(job: ClaimedJob, known?: UploadRecord): Promise<UploadRecord | undefined> {
    try {
      return await this.check(job, known);
    } catch (error) {
      await this.retryLater(job, message(error));
      return undefined;
    }
  }

  private async check(job: ClaimedJob, known?: UploadRecord): Promise<UploadRecord | undefined> {
    const record = known ?? (await this.records.read(job.projectId, job.requestKey));
    if (!record || record.state === "aborted") {
      await this.queue.done(job);
      return record;
    }
    if (record.state === "uploading" || (record.state === "completed" && record.verification === undefined)) {
      // Its completion is in flight (the job is added first; for an upload completed before the check existed, its
      // `pending` is being written), or died: a complete or success sent again adds another job.
      if (Date.now() - job.firstAddedAt > NOT_YET_COMPLETED_FOR_MS) await this.queue.done(job);
      else await this.queue.retryLater(job, Date.now() + NOT_YET_COMPLETED_DELAY_MS, "the upload is not completed yet");
      return undefined;
    }
    if (record.verification?.state !== "pending") {
      // Decided already (by another replica, or by this job before its process died): make sure what followed is done.
      if (record.verification) {
        await this.lifecycle.retried(record.state === "rejected" ? "upload.rejected" : "upload.verified", record);
      }
      if (record.state === "rejected") await this.afterRejected(record);
      await this.queue.done(job);
      return record;
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
    const decided = await this.decide(record, verification);
    await this.queue.done(job);
    return decided;
  }

  /** Records the verdict by compare-and-swap; the winner reports it; what follows a rejection is done either way. */
  private async decide(record: UploadRecord, verification: Verification): Promise<UploadRecord> {
    const failed = verification.state === "failed";
    const { record: after, changed } = await this.records.update(record, (current) => {
      if (current.state !== "completed" || current.verification?.state !== "pending") return undefined;
      const now = new Date().toISOString();
      const decided: UploadRecord = { ...current, verification, verifiedAt: now, updatedAt: now };
      return failed ? { ...decided, state: "rejected" } : decided;
    });
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

  /** What a rejection leaves: no object (or a listed one, under quarantine), no hash reservation, no open place. */
  private async afterRejected(record: UploadRecord): Promise<void> {
    if (record.checks?.quarantine) {
      const entry = { objectKey: record.objectKey, verification: record.verification, rejectedAt: record.verifiedAt };
      await this.storage.writeJson(quarantineKey(record.projectId, record.requestKey), entry);
    } else {
      await this.storage.deleteObject(record.objectKey);
    }
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

  private async retryLater(job: ClaimedJob, why: string): Promise<void> {
    const base = this.settings.retryBaseMs ?? 1000;
    const max = this.settings.retryMaxMs ?? 300_000;
    const delay = Math.min(base * 2 ** job.attempts, max) * (0.5 + Math.random() / 2);
    const upload = `${job.projectId}/${job.requestKey}`;
    const attempt = job.attempts + 1;
    const seconds = Math.round(delay / 1000);
    this.logger.warn(`The check of ${upload} could not decide (attempt ${attempt}): ${why}; next in ${seconds} s`);
    try {
      await this.queue.retryLater(job, Date.now() + delay, why);
    } catch (error) {
      // The store is still failing: the job stays where it is, and its lease running out lets it be taken again.
      this.logger.warn(
        `Could not reschedule the content check of ${job.projectId}/${job.requestKey}: ${message(error)}`,
      );
    }
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

function localKey(upload: JobTarget): string {
  return `${upload.projectId}/${upload.requestKey}`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
