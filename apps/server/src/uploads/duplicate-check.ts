import { ApiError } from "../errors/api-error";
import type { Storage } from "../storage/storage.port";
import { hashReservationKey } from "./upload-keys";

/**
 * The duplicate check (`enableDuplicateCheck` with a `fileHash`): one reservation document per project and hash,
 * created with `If-None-Match: *`, so of two starts of one file exactly one gets it. Kept when the upload completes;
 * released when it is aborted or its start fails.
 */
export class DuplicateCheck {
  constructor(private readonly storage: Storage) {}

  /** Reserves the hash for the upload, or throws 409 `DUPLICATE_FILE` naming the upload that holds it. */
  async reserve(projectId: string, fileHash: string, requestKey: string): Promise<void> {
    const key = hashReservationKey(projectId, fileHash);
    const reserved = await this.storage.writeJson(
      key,
      { requestKey, createdAt: new Date().toISOString() },
      {
        ifNoneMatch: true,
      },
    );
    if (!reserved) {
      const holder = (await this.storage.readJson(key)) as { requestKey?: string } | undefined;
      const named = holder?.requestKey ? ` (requestKey ${holder.requestKey})` : "";
      throw new ApiError({
        code: "DUPLICATE_FILE",
        field: "fileHash",
        message: `a file with this hash was already uploaded to project ${projectId}${named}`,
      });
    }
  }

  /** Releases a reservation, but only the one this upload holds. */
  async release(projectId: string, fileHash: string, requestKey: string): Promise<void> {
    const key = hashReservationKey(projectId, fileHash);
    const holder = (await this.storage.readJson(key)) as { requestKey?: string } | undefined;
    if (holder?.requestKey === requestKey) await this.storage.deleteObject(key);
  }
}
