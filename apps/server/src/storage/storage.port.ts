/**
 * The port every storage backend implements. Adapters know nothing of Nest or HTTP; they speak S3's multipart
 * vocabulary and report failures as `StorageError`s with one of a few reasons.
 */

export interface StoredPartInfo {
  partNumber: number;
  /** The part's ETag as the store reports it, including its double quotes. */
  eTag: string;
  size: number;
}

export interface ObjectMetadata {
  contentType: string;
  /** RFC 6266 `Content-Disposition` the download will carry. */
  contentDisposition: string;
  /** Small string metadata kept with the object (`x-amz-meta-*` on S3). */
  metadata: Record<string, string>;
}

export interface CompletedPart {
  partNumber: number;
  eTag: string;
}

export interface KeyPage {
  keys: string[];
  /** True when more keys follow the last one returned. */
  isTruncated: boolean;
}

export interface Storage {
  /** Starts a multipart upload of `key`; returns the store's upload id. */
  createMultipartUpload(key: string, object: ObjectMetadata): Promise<string>;
  /** Presigned PUT URLs for the given parts, in the same order, valid for `expiresInSeconds`. */
  presignUploadParts(key: string, uploadId: string, partNumbers: number[], expiresInSeconds: number): Promise<string[]>;
  /** Every stored part of the upload, ascending by part number. */
  listParts(key: string, uploadId: string): Promise<StoredPartInfo[]>;
  /** Assembles the listed parts (ascending) into the object. */
  completeMultipartUpload(key: string, uploadId: string, parts: CompletedPart[]): Promise<void>;
  /** Discards the upload and its parts. */
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
  /** A presigned GET URL of a stored object. */
  presignDownload(key: string, expiresInSeconds: number): Promise<string>;

  /** Reads a small JSON document; `undefined` when there is none. */
  readJson(key: string): Promise<unknown>;
  /**
   * Writes a small JSON document. With `ifNoneMatch`, the write happens only if no document exists at `key`
   * (atomically, like S3's `If-None-Match: *`); returns false when one did.
   */
  writeJson(key: string, value: unknown, options?: { ifNoneMatch?: boolean }): Promise<boolean>;
  /** Deletes an object; deleting a missing object is not an error. */
  deleteObject(key: string): Promise<void>;
  /** Keys under `prefix`, ascending, after `startAfter`, at most `limit`. */
  listKeys(prefix: string, options: { startAfter?: string; limit: number }): Promise<KeyPage>;

  /** Throws a `StorageError` with reason `unavailable` when the store cannot serve requests. */
  checkReady(): Promise<void>;
}

export type StorageErrorReason =
  | "upload-not-found"
  | "invalid-part"
  | "invalid-part-order"
  | "part-too-small"
  | "part-too-large"
  | "unavailable";

export class StorageError extends Error {
  override name = "StorageError";
  constructor(
    readonly reason: StorageErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The Nest injection token the storage module binds the configured adapter to. */
export const STORAGE = Symbol("Storage");
