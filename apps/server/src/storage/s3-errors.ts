import { S3ServiceException } from "@aws-sdk/client-s3";
import { StorageError } from "./storage-error";

// How the S3 adapter (s3.storage.ts, s3-object-move.ts) reports what S3 answers: the failures it expects and the
// outages, as `StorageError`s.

const S3_ERROR_REASONS: Record<string, StorageError["reason"] | undefined> = {
  NoSuchUpload: "upload-not-found",
  // Ceph RGW answers ListParts of a finished upload with NoSuchKey; reads of documents handle NoSuchKey themselves.
  NoSuchKey: "upload-not-found",
  InvalidPart: "invalid-part",
  InvalidPartOrder: "invalid-part-order",
  EntityTooSmall: "part-too-small",
  NoSuchBucket: "unavailable",
};

const UPLOAD_GONE = "The upload does not exist in storage (it was completed or aborted).";
const S3_ERROR_MESSAGES: Record<string, string> = {
  NoSuchUpload: UPLOAD_GONE,
  NoSuchKey: UPLOAD_GONE,
  InvalidPart: "A listed part is not stored or its eTag does not match the stored part.",
  InvalidPartOrder: "Parts must be listed in ascending order.",
  EntityTooSmall: "Every part but the last must be at least 5 MiB.",
};

/** Maps an SDK failure to a `StorageError` when it is one we expect; anything else passes through unchanged. */
export function toStorageError(error: unknown): unknown {
  if (error instanceof S3ServiceException) {
    const reason = S3_ERROR_REASONS[error.name];
    if (reason) return new StorageError(reason, S3_ERROR_MESSAGES[error.name] ?? error.message, { cause: error });
    const status = error.$metadata.httpStatusCode ?? 0;
    if (status >= 500 || status === 403 || error.name === "InvalidAccessKeyId") {
      // Outages, and credentials the store refuses: the request cannot succeed until the store or config is fixed.
      return new StorageError("unavailable", `S3 answered ${status} ${error.name}`, { cause: error });
    }
    return error;
  }
  if (isNetworkError(error)) {
    return new StorageError("unavailable", `S3 could not be reached: ${(error as Error).message}`, { cause: error });
  }
  return error;
}

const NETWORK_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
]);

function isNetworkError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (typeof code === "string" && NETWORK_ERROR_CODES.has(code)) || error.name === "TimeoutError";
}
