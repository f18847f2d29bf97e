import { Logger } from "@nestjs/common";
import { StorageError, type Storage } from "../storage/storage.port";
import { bestEffort } from "./best-effort";
import type { DuplicateCheck } from "./duplicate-check";
import type { OpenUploads } from "./open-uploads";
import { isSinglePut, phaseOf, type UploadRecord } from "./upload-record";
import type { UploadRecords } from "./upload-records";

/**
 * What an upload holds besides its record (the store's multipart upload, its hash reservation, its open place), let
 * go once a transition has decided its fate. Apart from the transitions because every step here is idempotent and
 * runs again when a request is sent again: a transition decides once, its release may run many times.
 */
export class UploadRelease {
  private readonly logger = new Logger("UploadRelease");

  constructor(
    private readonly storage: Storage,
    private readonly records: UploadRecords,
    private readonly openUploads: OpenUploads,
    private readonly duplicates: DuplicateCheck,
  ) {}

  /**
   * `work` (recording the upload `completed`, waiting for its check's verdict) alongside releasing its open place, once
   * the store has the object: the upload no longer counts as open whatever the rest finds, and they touch different
   * documents. The place's failure is thrown first (the request fails; sent again, it finishes both), then work's.
   */
  async whileCompleted<T>(record: UploadRecord, work: () => Promise<T>): Promise<T> {
    const [released, worked] = await Promise.allSettled([this.completed(record), work()]);
    if (released.status === "rejected") throw released.reason;
    if (worked.status === "rejected") throw worked.reason;
    return worked.value;
  }

  /** What follows `completed`: the upload no longer counts as open. Its hash reservation stays. */
  async completed(record: UploadRecord): Promise<void> {
    await this.openUploads.release(record);
  }

  /**
   * What follows `aborted`: the store discards the parts (a single-PUT upload's object), the hash and the open place
   * are released. A single-PUT URL cannot be revoked (S3 presigned URLs cannot): a PUT arriving after the abort stores
   * an object that no call hands out, and an abort sent again removes it.
   */
  async aborted(record: UploadRecord): Promise<void> {
    try {
      // A single-PUT upload has no multipart upload: its object, if the PUT came, is the upload's data.
      if (isSinglePut(record)) await this.storage.deleteObject(record.objectKey);
      else await this.storage.abortMultipartUpload(record.objectKey, record.uploadId);
    } catch (error) {
      if (!(error instanceof StorageError && error.reason === "upload-not-found")) throw error;
    }
    if (record.fileHash) await this.duplicates.release(record.projectId, record.fileHash, record.requestKey);
    await this.openUploads.release(record);
  }

  /** Undoes a complete request's claim whose parts the store refused: the client can send parts and complete again. */
  async completionClaim(claimed: UploadRecord): Promise<void> {
    await bestEffort(this.logger, "reopen an upload whose completion failed", async () => {
      await this.records.update(claimed, (current) => {
        if (phaseOf(current) !== "completing" || current.completion?.partsDigest !== claimed.completion?.partsDigest) {
          return undefined;
        }
        const { completion: _released, ...rest } = current;
        return { ...rest, updatedAt: new Date().toISOString() };
      });
    });
  }
}
