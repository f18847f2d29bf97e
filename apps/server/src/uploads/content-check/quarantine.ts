import type { Storage } from "../../storage/storage.port";
import { quarantineKey, quarantineObjectKey } from "../upload-keys";
import type { UploadRecord } from "../upload-record";

/** A rejected upload's entry in its project's quarantine list (`projects/{id}/quarantine/{requestKey}.json`). */
export interface QuarantineEntry {
  /** Where the object is kept now; null when it was gone before it could be moved (nothing is kept). */
  objectKey: string | null;
  /** The key it was stored at, where nothing is left. */
  movedFrom: string;
  fileName: string;
  mimeType: string;
  contentLength: number;
  verification: UploadRecord["verification"];
  rejectedAt: string | undefined;
}

/**
 * What a `quarantine` project does with a rejected upload's object: moves it off its key (anything presigning that key
 * would reach it) to `projects/{id}/quarantine/{requestKey}/object`, for which no URL is ever made, then lists it.
 * What fails throws: the content check's job is retried, and comes here again until it is done. Once the quarantine
 * holds the object (a retry after the listing failed), anything at the key is not the judged bytes but a late single
 * PUT to its URL: it is deleted, not moved over them.
 */
export async function quarantineRejected(storage: Storage, record: UploadRecord): Promise<QuarantineEntry> {
  const kept = quarantineObjectKey(record.projectId, record.requestKey);
  const keeps = async () => (await storage.objectSize(kept)) !== undefined;
  let there = await keeps();
  if (there) await storage.deleteObject(record.objectKey);
  // Not moved (nothing at its key): moved by a run at once, else gone already and nothing is kept.
  else there = (await storage.moveObject(record.objectKey, kept)) || (await keeps());
  const entry: QuarantineEntry = {
    objectKey: there ? kept : null,
    movedFrom: record.objectKey,
    fileName: record.fileName,
    mimeType: record.mimeType,
    contentLength: record.contentLength,
    verification: record.verification,
    rejectedAt: record.verifiedAt,
  };
  await storage.writeJson(quarantineKey(record.projectId, record.requestKey), entry);
  return entry;
}
