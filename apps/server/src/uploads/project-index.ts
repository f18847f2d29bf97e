import { keysUnder } from "../storage/key-listing";
import type { Storage } from "../storage/storage.port";
import { PROJECT_INDEX_PREFIX, projectIndexKey } from "./upload-keys";

/**
 * The projects that have had uploads in this store, kept in the store (one small document each): the list the expiry
 * sweep and the webhook deliveries go through where the gateway has no list of projects (a custom auth resolver), and
 * that no restart or replica loses.
 */
export class ProjectIndex {
  /** Projects this process has put in the index already. */
  private readonly noted = new Set<string>();

  constructor(private readonly storage: Storage) {}

  /** Adds the project, once per process; call it before the project's first upload is written. */
  async note(projectId: string): Promise<void> {
    if (this.noted.has(projectId)) return;
    await this.storage.writeJson(projectIndexKey(projectId), { projectId });
    this.noted.add(projectId);
  }

  async *projectIds(): AsyncGenerator<string> {
    for await (const key of keysUnder(this.storage, PROJECT_INDEX_PREFIX)) yield key.slice(PROJECT_INDEX_PREFIX.length);
  }
}
