import { DEFAULT_MAX_OPEN_UPLOADS, type Project } from "../auth/projects-file";
import { ApiError } from "../errors/api-error";
import { keysUnder, LIST_PAGE } from "../storage/key-listing";
import type { Storage } from "../storage/storage.port";
import { ProjectIndex } from "./project-index";
import { openUploadKey, openUploadPrefix } from "./upload-keys";
/** A marker with no upload record this long after it was written belongs to a start that died: a start takes ms. */
const ORPHAN_AFTER_MS = 60_000;
/**
 * How often one process looks for leaked markers of a project: a project at its limit would otherwise pay a read of
 * every marker for each start it refuses.
 */
const LEAK_CHECK_EVERY_MS = 60_000;

/** What the service knows of an upload: whether its record exists and is still in progress. */
export type UploadOpenness = "open" | "ended" | "missing";

/**
 * The per-project limit on uploads in progress (`maxOpenUploads`). Each upload in progress has a marker object, written
 * at start and removed by every transition out of `uploading`; the markers are counted by listing them. Kept in the
 * store, not in memory, so the limit holds for all replicas together.
 *
 * A start writes its marker first and counts second, and gives up if the count is over the limit. Of starts racing
 * for the last free places, each one's count includes every marker written before it, so the last to count sees all
 * of them: the limit is never exceeded. (At worst, racing starts all count each other and all give up, and their
 * clients are told to try later when one upload ends.)
 *
 * A process killed between writing a marker and the upload's record, or between a transition and the marker's
 * removal, leaks the marker. Before refusing a start, leaked markers are looked for and removed: those of an upload
 * that has ended, and those with no record a minute after they were written.
 */
export class OpenUploads {
  private readonly leaksCheckedAt = new Map<string, number>();
  /** Every project with an upload is in it before its first marker is written, so no upload in progress is missed. */
  readonly projects: ProjectIndex;

  constructor(
    private readonly storage: Storage,
    private readonly openness: (projectId: string, requestKey: string) => Promise<UploadOpenness>,
  ) {
    this.projects = new ProjectIndex(storage);
  }

  /** Takes a place for a new upload, or throws 429 `TOO_MANY_OPEN_UPLOADS` when the project has none free. */
  async claim(project: Project, requestKey: string): Promise<void> {
    const limit = project.maxOpenUploads ?? DEFAULT_MAX_OPEN_UPLOADS;
    const key = openUploadKey(project.id, requestKey);
    await this.projects.note(project.id);
    await this.storage.writeJson(key, { requestKey, createdAt: new Date().toISOString() });
    let open: number;
    try {
      open = await this.count(project.id, limit + 1);
      if (open > limit && (await this.releaseLeaked(project.id, requestKey)) > 0)
        open = await this.count(project.id, limit + 1);
    } catch (error) {
      await this.storage.deleteObject(key).catch(() => undefined);
      throw error;
    }
    if (open > limit) {
      await this.storage.deleteObject(key);
      throw new ApiError({
        code: "TOO_MANY_OPEN_UPLOADS",
        message: `project ${project.id} already has ${limit} uploads in progress, as many as it allows; complete or abort one first`,
      });
    }
  }

  /** Gives the upload's place back; releasing one that holds none is harmless. */
  async release(projectId: string, requestKey: string): Promise<void> {
    await this.storage.deleteObject(openUploadKey(projectId, requestKey));
  }

  /** Removes the project's leaked markers (at most once a minute per process); answers how many it removed. */
  private async releaseLeaked(projectId: string, ownKey: string): Promise<number> {
    const now = Date.now();
    if (now - (this.leaksCheckedAt.get(projectId) ?? 0) < LEAK_CHECK_EVERY_MS) return 0;
    this.leaksCheckedAt.set(projectId, now);
    const prefix = openUploadPrefix(projectId);
    let released = 0;
    for await (const key of keysUnder(this.storage, prefix)) {
      const requestKey = key.slice(prefix.length);
      if (requestKey === ownKey) continue;
      const openness = await this.openness(projectId, requestKey);
      if (openness === "open") continue;
      if (openness === "missing") {
        const marker = (await this.storage.readJson(key)) as { createdAt?: string } | undefined;
        const writtenAt = Date.parse(marker?.createdAt ?? "");
        if (marker === undefined || !(now - writtenAt >= ORPHAN_AFTER_MS)) continue; // gone already, or a start in flight
      }
      await this.storage.deleteObject(key);
      released++;
    }
    return released;
  }

  /** The number of markers of the project, counting no further than `upTo`. */
  private async count(projectId: string, upTo: number): Promise<number> {
    let counted = 0;
    for await (const _key of keysUnder(this.storage, openUploadPrefix(projectId), Math.min(LIST_PAGE, upTo))) {
      if (++counted >= upTo) break;
    }
    return counted;
  }

  /** The request keys of the project's uploads in progress, oldest last (request keys count down). */
  async *requestKeys(projectId: string): AsyncGenerator<string> {
    const prefix = openUploadPrefix(projectId);
    for await (const key of keysUnder(this.storage, prefix)) yield key.slice(prefix.length);
  }
}
