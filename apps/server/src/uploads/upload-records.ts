import { Logger } from "@nestjs/common";
import { ApiError } from "../errors/api-error";
import { StorageError, writeVersioned, type Storage, type WrittenDocument } from "../storage/storage.port";
import type { ExpirySchedule } from "./expiry-schedule";
import { isRequestKey, recordKey } from "./upload-keys";
import { phaseOf, uploadRecordSchema, type UploadRecord } from "./upload-record";

/** Compare-and-swap attempts before giving up; each failed one means another request changed the upload meanwhile. */
export const MAX_SWAP_ATTEMPTS = 10;

/** An upload's record as read, with the version a compare-and-swap of it is conditioned on. */
export interface VersionedRecord {
  record: UploadRecord;
  version: string;
}

/**
 * The uploads' records in the store (one JSON document each, next to the data, so that any replica can serve any
 * request): reads that tell a missing record from an unreadable one, and every change as a compare-and-swap on the
 * record's version. Why the record and not a separate claim object: the record is what every request reads first, so
 * one read tells all of them who has won, and its version also orders later changes (expiry) without more objects.
 */
export class UploadRecords {
  private readonly logger = new Logger("UploadRecords");

  constructor(
    private readonly storage: Storage,
    /** Told of every new `urlsExpireAt`, so that the expiry looks at the upload when those URLs have run out. */
    private readonly expiries: Pick<ExpirySchedule, "ensure"> | null = null,
  ) {}

  /** Writes the record of a new upload. */
  async create(record: UploadRecord): Promise<void> {
    await this.storage.writeJson(recordKey(record.projectId, record.requestKey), record);
  }

  async read(projectId: string, requestKey: string): Promise<UploadRecord | undefined> {
    return (await this.readVersioned(projectId, requestKey))?.record;
  }

  /** The record and its version; undefined when there is none or it is unreadable (logged: a bug, or tampering). */
  async readVersioned(projectId: string, requestKey: string): Promise<VersionedRecord | undefined> {
    const document = await this.storage.readDocument(recordKey(projectId, requestKey));
    if (document === undefined) return undefined;
    const parsed = uploadRecordSchema.safeParse(document.value);
    if (!parsed.success || parsed.data.projectId !== projectId) {
      this.logger.error(`Unreadable upload record ${recordKey(projectId, requestKey)}`);
      return undefined;
    }
    return { record: parsed.data, version: document.version };
  }

  /** The record, or 404 `UPLOAD_NOT_FOUND` (also for a request key this server cannot have made). */
  async load(projectId: string, requestKey: string): Promise<UploadRecord> {
    return (await this.loadVersioned(projectId, requestKey)).record;
  }

  async loadVersioned(projectId: string, requestKey: string): Promise<VersionedRecord> {
    const found = isRequestKey(requestKey) ? await this.readVersioned(projectId, requestKey) : undefined;
    if (!found) {
      throw new ApiError({ code: "UPLOAD_NOT_FOUND", field: "requestKey", message: "no such upload in this project" });
    }
    return found;
  }

  /**
   * Writes `record` only if the stored record is still at `version`; undefined when another request changed it, else
   * the version written (when the store tells it: the next swap needs no read).
   */
  swap(record: UploadRecord, version: string): Promise<WrittenDocument | undefined> {
    return writeVersioned(this.storage, recordKey(record.projectId, record.requestKey), record, { ifMatch: version });
  }

  /**
   * Applies `change` to the stored record by compare-and-swap, reading it again after each lost swap. `change` returns
   * undefined when there is nothing to do (the record returned is then the stored one, and `changed` false). With
   * `version`, the version `of` was read or written at, the first swap is tried on `of` without reading the record.
   * Answers the record after it, and its version when known.
   */
  async update(
    of: UploadRecord,
    change: (current: UploadRecord) => UploadRecord | undefined,
    version?: string,
  ): Promise<{ record: UploadRecord; changed: boolean; version?: string }> {
    if (version !== undefined) {
      // Only a swap that wins says `of` was current: anything else is decided on the record read below.
      const next = change(of);
      const written = next && (await this.swap(next, version));
      if (next && written) return { record: next, changed: true, ...written };
    }
    for (let swaps = 0; swaps < MAX_SWAP_ATTEMPTS; swaps++) {
      const current = await this.loadVersioned(of.projectId, of.requestKey);
      const next = change(current.record);
      if (next === undefined) return { record: current.record, changed: false, version: current.version };
      const written = await this.swap(next, current.version);
      if (written) return { record: next, changed: true, ...written };
    }
    throw contended();
  }

  /** Pushes the record's `urlsExpireAt` to `expiresAt` when URLs valid that long were just handed out. */
  async extendExpiry(record: UploadRecord, expiresAt: string): Promise<void> {
    if (record.urlsExpireAt !== undefined && record.urlsExpireAt >= expiresAt) return;
    const { changed } = await this.update(record, (current) =>
      phaseOf(current) !== "uploading" || (current.urlsExpireAt !== undefined && current.urlsExpireAt >= expiresAt)
        ? undefined
        : { ...current, urlsExpireAt: expiresAt },
    );
    if (changed) await this.expiries?.ensure(record.projectId, Date.parse(expiresAt));
  }
}

/** The record kept changing under every attempt to change it: a storm of requests on one upload; worth a retry. */
export function contended(): StorageError {
  return new StorageError("unavailable", "the upload's record changed under every attempt to update it");
}

/** 409 `UPLOAD_NOT_IN_PROGRESS`: the upload is past the state a request needs. */
export function notInProgress(record: UploadRecord, message = `the upload is ${record.state}`): ApiError {
  return new ApiError({ code: "UPLOAD_NOT_IN_PROGRESS", field: "requestKey", message });
}
