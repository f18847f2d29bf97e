import { randomUUID } from "node:crypto";
import { z } from "zod";

/**
 * Where due work lives: one global prefix per kind of work, its keys ordered by the time the work is due, so that one
 * LIST of the first keys finds the earliest due work whatever the number of projects (an idle gateway makes one
 * request per poll and kind, with one project as with 10,000). Project ids start with a letter or digit, so `_due`
 * is never a project's folder.
 *
 *   projects/_due/{kind}/{dueAt: 13-digit ms}/{id}
 *
 * An entry is a small JSON document (its payload, attempts, and the lease of whoever works on it). Every change of one
 * is a compare-and-swap (`Storage.writeJson` with `ifMatch`/`ifNoneMatch`): of replicas claiming one entry, one wins;
 * a claim is a lease, so work whose process died is claimed again once the lease has run out.
 */
export const DUE_PREFIX = "projects/_due/";

/**
 * What the index needs of a store: the `Storage` port's documents and listing, named here structurally (the ground
 * floor imports nothing above it; any `Storage` is one).
 */
export interface DueStore {
  listKeys(prefix: string, options: { startAfter?: string; limit: number }): Promise<{ keys: string[] }>;
  readDocument(key: string): Promise<{ value: unknown; version: string } | undefined>;
  writeJson(key: string, value: unknown, options?: { ifNoneMatch?: boolean; ifMatch?: string }): Promise<boolean>;
  deleteObject(key: string): Promise<void>;
}

const KIND = /^[a-z][a-z0-9-]{0,39}$/;
/** Ids name the work within its kind; what S3 keys allow without escaping, and short. */
const ID = /^[A-Za-z0-9._:~-]{1,400}$/;
const DUE_DIGITS = 13;
const MAX_DUE = 9_999_999_999_999;

const entrySchema = z.object({
  kind: z.string(),
  id: z.string(),
  dueAt: z.number(),
  payload: z.unknown().optional(),
  /** Claims of this entry that ended without settling it (a failure rescheduled it, or the claimer died). */
  attempts: z.number().int().nonnegative(),
  lease: z.object({ owner: z.string(), until: z.number() }).optional(),
});
type Entry = z.infer<typeof entrySchema>;

/** An entry as one LIST names it: what is due when, without reading it. */
export interface DueRef {
  kind: string;
  id: string;
  dueAt: number;
  key: string;
}

/** An entry this process holds the lease of: work on it, then `remove` or `reschedule` it. */
export interface ClaimedEntry<P = unknown> extends DueRef {
  payload: P | undefined;
  /** How many earlier claims ended without settling it. */
  attempts: number;
  /** This claim's lease: until when nobody else claims the entry. */
  leaseUntil: number;
  /** Identifies this claim's lease: a reschedule after another replica took the entry over changes nothing. */
  readonly token: string;
}

export function dueKindPrefix(kind: string): string {
  return `${DUE_PREFIX}${kind}/`;
}

export function dueKey(kind: string, id: string, dueAt: number): string {
  if (!KIND.test(kind)) throw new RangeError(`not a due-work kind: ${JSON.stringify(kind)}`);
  if (!ID.test(id)) throw new RangeError(`not a due-work id: ${JSON.stringify(id)}`);
  const at = Math.min(MAX_DUE, Math.max(0, Math.ceil(dueAt)));
  return `${dueKindPrefix(kind)}${String(at).padStart(DUE_DIGITS, "0")}/${id}`;
}

/** The entry a key names; undefined for a key that is no entry's (left alone). */
export function parseDueKey(kind: string, key: string): DueRef | undefined {
  const prefix = dueKindPrefix(kind);
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length);
  const slash = rest.indexOf("/");
  const digits = rest.slice(0, slash);
  const id = rest.slice(slash + 1);
  if (slash !== DUE_DIGITS || !/^[0-9]+$/.test(digits) || !ID.test(id)) return undefined;
  return { kind, id, dueAt: Number(digits), key };
}

/**
 * The store-kept, due-ordered index of work: `schedule`, then (any replica) `due` → `claim` → work → `remove` or
 * `reschedule`. A process that dies mid-work leaves a lease that runs out; the entry is then due again and claimed
 * again (at least once: the work must be safe to do twice).
 */
export class DueIndex {
  /** This process: the owner part of its leases. */
  private readonly owner = randomUUID();

  constructor(
    private readonly storage: DueStore,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Schedules work `id` of `kind` for `dueAt` (ms) with its payload. Idempotent: the key is fixed by kind, id and time,
   * and written only if absent (false: it was there already, as scheduled earlier).
   */
  async schedule(kind: string, id: string, dueAt: number, payload?: unknown): Promise<DueRef & { created: boolean }> {
    const key = dueKey(kind, id, dueAt);
    const entry: Entry = { kind, id, dueAt, attempts: 0, ...(payload !== undefined ? { payload } : {}) };
    const created = await this.storage.writeJson(key, entry, { ifNoneMatch: true });
    return { ...parseDueKey(kind, key)!, created };
  }

  /**
   * Schedules work `id` of `kind` for `dueAt`, claimed at once by this process for `leaseMs` (it means to do the work
   * now): the write that schedules it is its claim. If the process dies, the lease runs out and any replica claims it.
   * Undefined when the entry was there already (scheduled earlier: not this process's).
   */
  async scheduleClaimed<P>(
    kind: string,
    id: string,
    dueAt: number,
    payload: P,
    leaseMs: number,
  ): Promise<ClaimedEntry<P> | undefined> {
    const key = dueKey(kind, id, dueAt);
    const token = this.leaseToken();
    const lease = { owner: token, until: this.now() + leaseMs };
    const entry: Entry = { kind, id, dueAt, attempts: 0, payload, lease };
    if (!(await this.storage.writeJson(key, entry, { ifNoneMatch: true }))) return undefined;
    return { ...parseDueKey(kind, key)!, payload, attempts: 0, leaseUntil: lease.until, token };
  }

  /**
   * The first entries of `kind` due by `at` (now by default), earliest first: one LIST of at most `limit` keys. Entries
   * leased by others are among them (their key keeps its time): `claim` skips those still held.
   */
  async due(kind: string, limit: number, at = this.now()): Promise<DueRef[]> {
    const page = await this.storage.listKeys(dueKindPrefix(kind), { limit });
    const refs: DueRef[] = [];
    for (const key of page.keys) {
      const ref = parseDueKey(kind, key);
      if (!ref) continue;
      if (ref.dueAt > at) break; // ascending: nothing further is due
      refs.push(ref);
    }
    return refs;
  }

  /**
   * Claims a due entry for `leaseMs` (or what it answers for the entry's payload): a read and a compare-and-swap that
   * sets this process's lease. Undefined when the entry is gone, not due, or held by a lease that has not run out
   * (another replica works on it), or when another claim won the swap.
   */
  async claim<P>(
    ref: DueRef,
    leaseMs: number | ((payload: P | undefined) => number),
  ): Promise<ClaimedEntry<P> | undefined> {
    const document = await this.storage.readDocument(ref.key);
    if (!document) return undefined;
    const parsed = entrySchema.safeParse(document.value);
    if (!parsed.success) {
      await this.storage.deleteObject(ref.key); // not ours to read: nothing can work on it
      return undefined;
    }
    const entry = parsed.data;
    const now = this.now();
    if (entry.dueAt > now || (entry.lease && entry.lease.until > now)) return undefined;
    // A lease that ran out is a claim that died: it counts as an attempt.
    const attempts = entry.attempts + (entry.lease ? 1 : 0);
    const token = this.leaseToken();
    const payload = entry.payload as P | undefined;
    const lease = { owner: token, until: now + (typeof leaseMs === "number" ? leaseMs : leaseMs(payload)) };
    if (!(await this.storage.writeJson(ref.key, { ...entry, attempts, lease }, { ifMatch: document.version }))) {
      return undefined;
    }
    return { ...ref, payload, attempts, leaseUntil: lease.until, token };
  }

  /** The work is done: the entry goes. (Done twice, after a lease ran out, is harmless: the second finds nothing.) */
  async remove(entry: DueRef): Promise<void> {
    await this.storage.deleteObject(entry.key);
  }

  /**
   * Schedules the claimed entry again for `dueAt`, with a new payload if given, counting the attempt; false, and
   * nothing changed, when its lease ran out and another claim took it over. The new entry is written before the old
   * one is removed: a process dying between the two leaves both, and the work is done once more (at least once).
   */
  async reschedule<P>(entry: ClaimedEntry<P>, dueAt: number, payload?: P): Promise<boolean> {
    const document = await this.storage.readDocument(entry.key);
    const current = entrySchema.safeParse(document?.value).data;
    if (!document || current?.lease?.owner !== entry.token) return false;
    const next: Entry = {
      kind: entry.kind,
      id: entry.id,
      dueAt,
      attempts: current.attempts + 1,
      ...(payload !== undefined ? { payload } : current.payload !== undefined ? { payload: current.payload } : {}),
    };
    const key = dueKey(entry.kind, entry.id, dueAt);
    if (key === entry.key) return this.storage.writeJson(key, next, { ifMatch: document.version });
    // Absent, or there already from a reschedule that died before removing the old entry: either way it is scheduled.
    await this.storage.writeJson(key, next, { ifNoneMatch: true });
    await this.storage.deleteObject(entry.key);
    return true;
  }

  private leaseToken(): string {
    return `${this.owner}:${randomUUID()}`;
  }
}
