import { z } from "zod";

/**
 * The closed set of machine-readable error codes. Every error reply carries one or more of these in `errorDetails`;
 * the HTTP status of a reply is the status of its first code. `retryable` says whether sending the same request again
 * later can succeed.
 */
export const ERROR_CODES = {
  VALIDATION_FAILED: { status: 400, retryable: false, message: "The request is invalid." },
  MALFORMED_REQUEST: { status: 400, retryable: false, message: "The request body is not valid JSON." },
  INVALID_PART: {
    status: 400,
    retryable: false,
    message: "A listed part is not stored or its eTag does not match the stored part.",
  },
  INVALID_PART_ORDER: { status: 400, retryable: false, message: "Parts must be listed in ascending order." },
  PART_TOO_SMALL: {
    status: 400,
    retryable: false,
    message: "Every part but the last must be at least 5 MiB.",
  },
  PART_SIZE_MISMATCH: {
    status: 400,
    retryable: false,
    message: "A stored part does not have the size the upload's part plan gives it.",
  },
  BAD_DIGEST: {
    status: 400,
    retryable: false,
    message: "The part's bytes do not match the MD5 in its Content-MD5 header; nothing was stored.",
  },
  UNAUTHORIZED: { status: 401, retryable: false, message: "A valid API key is required." },
  TOKEN_EXPIRED: { status: 401, retryable: false, message: "The upload token has expired; get a new one." },
  FORBIDDEN: { status: 403, retryable: false, message: "This API key or token may not use this project." },
  TOKEN_NOT_ALLOWED: {
    status: 403,
    retryable: false,
    message: "Upload tokens may not call this route; it needs the project's API key.",
  },
  TOKEN_UPLOAD_LIMIT_REACHED: {
    status: 403,
    retryable: false,
    message: "The upload token has started as many uploads as it allows (maxUploads); get a new one.",
  },
  PROJECT_NOT_FOUND: { status: 404, retryable: false, message: "No such project." },
  UPLOAD_NOT_FOUND: { status: 404, retryable: false, message: "No such upload in this project." },
  ROUTE_NOT_FOUND: { status: 404, retryable: false, message: "No such route." },
  METHOD_NOT_ALLOWED: { status: 405, retryable: false, message: "This method is not allowed here." },
  REQUEST_TIMEOUT: {
    status: 408,
    retryable: true,
    message: "The request did not arrive in time: its headers or body were too slow, or stalled.",
  },
  DUPLICATE_FILE: {
    status: 409,
    retryable: false,
    message: "A file with this hash was already uploaded to this project.",
  },
  UPLOAD_NOT_IN_PROGRESS: {
    status: 409,
    retryable: false,
    message: "The upload is no longer in progress (it was completed or aborted).",
  },
  UPLOAD_NOT_COMPLETED: { status: 409, retryable: false, message: "The upload has not been completed." },
  NOT_A_MULTIPART_UPLOAD: {
    status: 409,
    retryable: false,
    message:
      "This upload was started with POST /url (one PUT), not in parts: PUT the file to its URL, then call POST /success/{requestKey}.",
  },
  PRECONDITION_FAILED: {
    status: 412,
    retryable: false,
    message:
      "The store already holds this upload's file: a single-PUT URL stores it once. Complete the upload with POST /success/{requestKey}.",
  },
  VERIFICATION_PENDING: {
    status: 409,
    retryable: true,
    message: "The stored file's content check has not finished yet; retry shortly (see Retry-After).",
  },
  IDEMPOTENCY_KEY_IN_USE: {
    status: 409,
    retryable: true,
    message: "A request with this Idempotency-Key is still being processed; retry shortly.",
  },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false, message: "The request body is too large." },
  FILE_TOO_LARGE: { status: 413, retryable: false, message: "The file is larger than this project allows." },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    retryable: false,
    message: "The request body must be JSON (Content-Type: application/json).",
  },
  MIME_TYPE_NOT_ALLOWED: { status: 415, retryable: false, message: "This project does not accept this MIME type." },
  RANGE_NOT_SATISFIABLE: { status: 416, retryable: false, message: "The requested byte range is outside the object." },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    retryable: false,
    message: "This Idempotency-Key was already used with another request body; use a new key for a new request.",
  },
  CONTENT_REJECTED: {
    status: 422,
    retryable: false,
    message:
      "The stored file failed the content check (its type, media or scan); the upload is rejected and its file removed.",
  },
  HEADERS_TOO_LARGE: { status: 431, retryable: false, message: "The request's headers (or URL) are too large." },
  RATE_LIMITED: { status: 429, retryable: true, message: "Too many requests; retry later." },
  TOO_MANY_OPEN_UPLOADS: {
    status: 429,
    retryable: false,
    message: "The project has as many uploads in progress as it allows; complete or abort one first.",
  },
  INTERNAL_ERROR: { status: 500, retryable: true, message: "Something went wrong on the server." },
  UPLOAD_TOKENS_NOT_CONFIGURED: {
    status: 501,
    retryable: false,
    message:
      "Upload tokens are off: this gateway has no key to sign them. Set UPLOAD_TOKEN_KEYS=kid:secret (a random " +
      "secret of at least 32 bytes, the same on every replica; auth.uploadTokens.keys when embedding) and restart.",
  },
  STORAGE_UNAVAILABLE: { status: 503, retryable: true, message: "The storage backend could not be reached." },
  IDENTITY_PROVIDER_UNAVAILABLE: {
    status: 503,
    retryable: true,
    message: "The identity provider's signing keys (AUTH_JWKS_URL) could not be fetched to check the token.",
  },
} as const satisfies Record<string, { status: number; retryable: boolean; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const errorCodeSchema = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]);

/** The HTTP statuses an error reply can have: every status in `ERROR_CODES`. */
export const ERROR_STATUSES = [
  400, 401, 403, 404, 405, 408, 409, 412, 413, 415, 416, 422, 429, 431, 500, 501, 503,
] as const;
export type ErrorStatus = (typeof ERROR_STATUSES)[number];
