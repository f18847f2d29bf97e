import { randomInt } from "node:crypto";
import { DEFAULT_MAX_OPEN_UPLOADS, type Project } from "../auth/projects-file";
import { ApiError } from "../errors/api-error";
import { keysUnder } from "../storage/key-listing";
import { StorageError, type Storage } from "../storage/storage.port";
import { openSlotKey, openSlotPrefix } from "./upload-keys";
import { phaseOf, type UploadRecord } from "./upload-record";

/**
 * A marker whose upload has no record this long after it was written belongs to a start that died (a start takes
 * ms); one whose upload ended this long ago belongs to a process that died before giving its place back.
 */
const LEAKED_AFTER_MS = 60_000;
/** Rounds of "list the places, try a free one" before a start that keeps losing its race says "try again". */
const MAX_ROUNDS = 5;
/**
 * How long the places a listing found taken steer this process's next tries in the project (near the limit, a place
 * picked at random is mostly taken: a free one of the last listing is likelier free).
 */
const SEEN_FOR_MS = 5_000;
/** Projects whose last listing is remembered, at most. */
const MAX_SEEN = 10_000;

/** What the marker of a place says: whose place it is, and (for the expiry) when that upload's URLs stop working. */
export interface OpenMarker {
  requestKey: string;
  createdAt: string;
  /** ISO time the upload's first URLs stop working; a resume or replay may extend the record's, never shorten it. */
  expiresAt?: string;
}

/**
 * The per-project limit on uploads in progress (`maxOpenUploads`), kept in the store so that it holds for all replicas
 * together: a project with a limit of N has N places, `projects/{projectId}/open/{0..N-1}`, and an upload in progress
 * holds one, a marker document written with `If-None-Match: *`. Of starts racing for one place exactly one writes it,
 * so the limit is never exceeded, and a start that finds a place free takes it in one request (no count first).
 *
 * The place is tried at random (among those the process's last listing of the project, if recent, found free); only a
 * start that finds it taken lists the project's places (one LIST per 1,000) and tries a free one, and only a start
 * that finds none free looks for leaked places. The upload's record keeps its
 * place's number (`openSlot`), and the transition out of `uploading` deletes that marker.
 *
 * A process killed between writing a marker and the upload's record, or between a transition and the marker's
 * removal, leaks the place. A start that finds no place free takes a leaked one over, by a compare-and-swap on the
 * leaked marker's version (never a delete, which could remove a place another start has just taken): leaked are
 * markers with no record a minute after they were written, and those of an upload that ended a minute ago or more.
 * Lowering a project's limit leaves uploads in places beyond it in progress; they are not counted against the new one.
 */
export class OpenUploads {
  /** Per project, the places the last listing found taken (and those this process took since), and when. */
  private readonly seen = new Map<string, { at: number; taken: Set<number> }>();

  constructor(
    private readonly storage: Storage,
    private readonly readRecord: (projectId: string, requestKey: string) => Promise<UploadRecord | undefined>,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Takes a place for a new upload and answers its number, or throws 429 `TOO_MANY_OPEN_UPLOADS` when the project has
   * none free. One request when the first place tried is free.
   */
  async claim(project: Project, requestKey: string, expiresAt: string): Promise<number> {
    const limit = project.maxOpenUploads ?? DEFAULT_MAX_OPEN_UPLOADS;
    const marker: OpenMarker = { requestKey, createdAt: new Date(this.now()).toISOString(), expiresAt };
    const seen = this.seen.get(project.id);
    const known = seen && this.now() - seen.at < SEEN_FOR_MS ? seen.taken : undefined;
    const first = known && known.size < limit ? freePlace(known, limit) : randomInt(limit);
    if (await this.write(project.id, first, marker)) {
      known?.add(first);
      return first;
    }
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const taken = await this.takenPlaces(project.id, limit);
      this.remember(project.id, taken);
      if (taken.size >= limit) {
        const takenOver = await this.takeOverLeaked(project.id, taken, marker);
        if (takenOver !== undefined) return takenOver;
        throw new ApiError({
          code: "TOO_MANY_OPEN_UPLOADS",
          message: `project ${project.id} already has ${limit} uploads in progress, as many as it allows; complete or abort one first`,
        });
      }
      const slot = freePlace(taken, limit);
      taken.add(slot); // taken now, by this start or by the one that beat it
      if (await this.write(project.id, slot, marker)) return slot;
    }
    // Every place tried was taken by a racing start in between: the store is busy, worth a retry.
    throw new StorageError("unavailable", "the open-upload places changed under every attempt to take one");
  }

  /**
   * Gives the upload's place back; a record without a place (never had one) gives nothing back. Only while the place
   * is still this upload's: a transition reported again (a retried complete, a rejection after the completion that
   * released it already) must not free a place another start has taken since.
   */
  async release(record: Pick<UploadRecord, "projectId" | "openSlot" | "requestKey">): Promise<void> {
    if (record.openSlot === undefined) return;
    await this.giveBack(record.projectId, record.openSlot, record.requestKey);
  }

  /** Frees a place taken by a start that failed after it, if it is still this start's. */
  async giveBack(projectId: string, slot: number, requestKey: string): Promise<void> {
    const marker = (await this.storage.readJson(openSlotKey(projectId, slot))) as OpenMarker | undefined;
    if (marker?.requestKey === requestKey) await this.storage.deleteObject(openSlotKey(projectId, slot));
  }

  /** The markers of the project's uploads in progress (and the keys they are at), in place order. */
  async *markers(projectId: string): AsyncGenerator<OpenMarker & { key: string }> {
    for await (const key of keysUnder(this.storage, openSlotPrefix(projectId))) {
      const marker = (await this.storage.readJson(key)) as OpenMarker | undefined;
      if (typeof marker?.requestKey === "string") yield { ...marker, key };
    }
  }

  /**
   * Frees the place at `key` if it is leaked (see the class): its marker is first swapped, on the version read, for
   * one that nothing takes over or gives back (no record, no age), then deleted, so the delete can only remove the
   * leaked marker, never a place another start has just taken. Answers whether it freed it.
   */
  async releaseIfLeaked(projectId: string, key: string): Promise<boolean> {
    const document = await this.storage.readDocument(key);
    if (!document) return false;
    const held = document.value as Partial<OpenMarker> | undefined;
    const requestKey = typeof held?.requestKey === "string" ? held.requestKey : undefined;
    const record = requestKey ? await this.readRecord(projectId, requestKey) : undefined;
    if (!isLeaked(held, record, this.now())) return false;
    const releasing = { requestKey: requestKey ?? "", releasing: true };
    if (!(await this.storage.writeJson(key, releasing, { ifMatch: document.version }))) return false;
    await this.storage.deleteObject(key);
    return true;
  }

  private remember(projectId: string, taken: Set<number>): void {
    if (this.seen.size >= MAX_SEEN) this.seen.clear();
    this.seen.set(projectId, { at: this.now(), taken });
  }

  private write(projectId: string, slot: number, marker: OpenMarker): Promise<boolean> {
    return this.storage.writeJson(openSlotKey(projectId, slot), marker, { ifNoneMatch: true });
  }

  /** The numbers of the places taken now, below `limit`. */
  private async takenPlaces(projectId: string, limit: number): Promise<Set<number>> {
    const prefix = openSlotPrefix(projectId);
    const taken = new Set<number>();
    for await (const key of keysUnder(this.storage, prefix)) {
      const slot = Number(key.slice(prefix.length));
      if (Number.isSafeInteger(slot) && slot >= 0 && slot < limit) taken.add(slot);
    }
    return taken;
  }

  /** Takes over the first leaked place found (see the class), by a compare-and-swap on its marker's version. */
  private async takeOverLeaked(projectId: string, taken: Set<number>, marker: OpenMarker): Promise<number | undefined> {
    const now = this.now();
    for (const slot of someOf(taken, TAKEOVER_SAMPLE)) {
      const document = await this.storage.readDocument(openSlotKey(projectId, slot));
      if (!document) {
        if (await this.write(projectId, slot, marker)) return slot; // released meanwhile
        continue;
      }
      const held = document.value as Partial<OpenMarker> | undefined;
      const requestKey = typeof held?.requestKey === "string" ? held.requestKey : undefined;
      const record = requestKey ? await this.readRecord(projectId, requestKey) : undefined;
      if (!isLeaked(held, record, now)) continue;
      if (await this.storage.writeJson(openSlotKey(projectId, slot), marker, { ifMatch: document.version }))
        return slot;
    }
    return undefined;
  }
}

/**
 * Places a start refused at the cap looks at for a leaked one: a few, at random. Looking at every one cost a refused
 * start two reads per place (its marker, its record: 2,000 requests at the default limit), which a client at its cap
 * could make the gateway do again and again; a leaked place is rare (a process dying between a start's steps), found
 * by a later start's sample or freed by the expiry.
 */
const TAKEOVER_SAMPLE = 4;

/** Up to `count` of the places, chosen at random. */
function someOf(places: Set<number>, count: number): number[] {
  const all = [...places];
  for (let i = 0; i < Math.min(count, all.length); i++) {
    const j = i + randomInt(all.length - i);
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, count);
}

function isLeaked(
  marker: (Partial<OpenMarker> & { releasing?: boolean }) | undefined,
  record: UploadRecord | undefined,
  now: number,
): boolean {
  if (typeof marker?.requestKey !== "string") return true; // unreadable: nobody's
  if (marker.releasing) return true; // being freed by a process that died before deleting it
  if (!record) return now - Date.parse(marker.createdAt ?? "") >= LEAKED_AFTER_MS;
  const phase = phaseOf(record);
  if (phase === "uploading" || phase === "completing") return false;
  return now - Date.parse(record.updatedAt) >= LEAKED_AFTER_MS;
}

/** Random picks `freePlace` tries while at most half the places are taken (all of them taken: 2^-32 at worst). */
const FREE_PLACE_PICKS = 32;

/**
 * A place not in `taken`, at random (so that racing starts rarely pick the same one). While most places are free, a
 * few random picks find one (each free place alike); only a fuller project walks its places, whose cost grows with
 * the limit (a project allowed 1,000,000 open uploads would walk ~500,000 per start).
 */
export function freePlace(taken: Set<number>, limit: number): number {
  if (taken.size <= limit / 2) {
    for (let pick = 0; pick < FREE_PLACE_PICKS; pick++) {
      const slot = randomInt(limit);
      if (!taken.has(slot)) return slot;
    }
  }
  const free = limit - taken.size;
  let skip = randomInt(free);
  for (let slot = 0; slot < limit; slot++) {
    if (taken.has(slot)) continue;
    if (skip-- === 0) return slot;
  }
  return 0; // unreachable: taken.size < limit
}
