import { z } from "zod";
import type { Storage } from "../../storage/storage.port";
import { parseVerifyJobKey, VERIFY_JOBS_PREFIX, verifyJobKey } from "../upload-keys";

/** Which upload a job checks. */
export interface JobTarget {
  projectId: string;
  requestKey: string;
}

/** A job found in the queue, not yet claimed. */
export interface JobTicket extends JobTarget {
  key: string;
  dueAt: number;
}

/** A job this process holds the lease of, until `leaseUntil`. */
export interface ClaimedJob extends JobTicket {
  /** Failed attempts before this one. */
  attempts: number;
  /** When the first job of this upload was added: how long it has been retried. */
  firstAddedAt: number;
  leaseUntil: number;
}

/**
 * The queue of content checks, behind this small interface so that it can move onto another due-ordered index
 * without the verifier changing. Every method is one or two store requests; `due` is one listing whatever the number
 * of projects. Jobs are leased, not locked: a claim ends by `done` or `retryLater`, or by its lease running out (the
 * process died), after which any replica may claim the job again.
 */
export interface VerificationJobQueue {
  /**
   * Adds a job due at `dueAt` (now by default); adding one for an upload that has one already makes a second. With
   * `lease`, the job is added claimed by `lease.owner` (who means to run it at once) until `lease.until`.
   */
  add(target: JobTarget, dueAt?: number, lease?: { owner: string; until: number }): Promise<JobTicket>;
  /** Up to `limit` jobs due by `now`, the earliest first (leased ones included: `claim` tells). */
  due(now: number, limit: number): Promise<JobTicket[]>;
  /** Takes the job's lease for `leaseMs` (a compare-and-swap: of replicas claiming at once, one wins); or undefined. */
  claim(ticket: JobTicket, owner: string, leaseMs: number): Promise<ClaimedJob | undefined>;
  /** Puts a claimed job back, due at `dueAt`, counting the failed attempt. */
  retryLater(job: ClaimedJob, dueAt: number, error: string): Promise<void>;
  /** Removes a finished job. */
  done(job: ClaimedJob): Promise<void>;
}

const jobSchema = z.object({
  projectId: z.string(),
  requestKey: z.string(),
  attempts: z.number().int(),
  firstAddedAt: z.number(),
  lease: z.object({ owner: z.string(), until: z.number() }).optional(),
  lastError: z.string().optional(),
});
type JobDocument = z.infer<typeof jobSchema>;

/**
 * The queue kept in the store, one JSON document per job under one prefix for every project, keyed by due time
 * (`projects/_verify-jobs/{dueAt}/{projectId}/{requestKey}.json`), so the store's ascending listing is the order
 * they are due in and one listing per poll finds every due job. A job is rescheduled by writing it at its new due
 * time and deleting the old key; a process dying in between leaves two jobs for one upload, which is harmless:
 * whichever runs second finds the upload decided (the record's compare-and-swap, not the job, makes its event once).
 */
export class StoreVerificationJobQueue implements VerificationJobQueue {
  constructor(private readonly storage: Storage) {}

  async add(target: JobTarget, dueAt = Date.now(), lease?: { owner: string; until: number }): Promise<JobTicket> {
    const key = verifyJobKey(dueAt, target.projectId, target.requestKey);
    const job: JobDocument = { ...target, attempts: 0, firstAddedAt: Date.now(), ...(lease ? { lease } : {}) };
    await this.storage.writeJson(key, job, { ifNoneMatch: true }); // false: the same job is there already
    return { key, dueAt: Math.floor(dueAt), ...target };
  }

  async due(now: number, limit: number): Promise<JobTicket[]> {
    const page = await this.storage.listKeys(VERIFY_JOBS_PREFIX, { limit });
    const tickets: JobTicket[] = [];
    for (const key of page.keys) {
      const parsed = parseVerifyJobKey(key);
      if (!parsed) continue;
      if (parsed.dueAt > now) break; // the rest are due later
      tickets.push({ key, ...parsed });
    }
    return tickets;
  }

  async claim(ticket: JobTicket, owner: string, leaseMs: number): Promise<ClaimedJob | undefined> {
    const document = await this.storage.readDocument(ticket.key);
    if (!document) return undefined;
    const parsed = jobSchema.safeParse(document.value);
    const now = Date.now();
    if (!parsed.success) {
      await this.storage.deleteObject(ticket.key); // not a job this gateway wrote
      return undefined;
    }
    const job = parsed.data;
    if (job.lease && job.lease.until > now) return undefined;
    const leaseUntil = now + leaseMs;
    const claimed: JobDocument = { ...job, lease: { owner, until: leaseUntil } };
    if (!(await this.storage.writeJson(ticket.key, claimed, { ifMatch: document.version }))) return undefined;
    return { ...ticket, attempts: job.attempts, firstAddedAt: job.firstAddedAt, leaseUntil };
  }

  async retryLater(job: ClaimedJob, dueAt: number, error: string): Promise<void> {
    const next: JobDocument = {
      projectId: job.projectId,
      requestKey: job.requestKey,
      attempts: job.attempts + 1,
      firstAddedAt: job.firstAddedAt,
      lastError: error.slice(0, 500),
    };
    const key = verifyJobKey(dueAt, job.projectId, job.requestKey);
    await this.storage.writeJson(key, next);
    if (key !== job.key) await this.storage.deleteObject(job.key);
  }

  async done(job: ClaimedJob): Promise<void> {
    await this.storage.deleteObject(job.key);
  }
}
