/**
 * S3's multipart limits. Every store the gateway fronts, including the embedded one, applies the same numbers so that
 * what works locally works on S3.
 */
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

/** Every part but the last must be at least this big (S3 `EntityTooSmall` otherwise). */
export const MIN_PART_SIZE = 5 * MiB;
/** No part may be bigger than this. */
export const MAX_PART_SIZE = 5 * GiB;
/** S3 numbers parts 1..10,000. */
export const MAX_PARTS = 10_000;
/** The largest object one S3 `PutObject` stores: the limit of a single-PUT upload (`POST /url`). */
export const MAX_SINGLE_PUT_SIZE = 5 * GiB;
/** The largest object S3 stores. */
export const MAX_OBJECT_SIZE = 5 * TiB;

export const MAX_FILE_NAME_LENGTH = 255;

/** Presigned URL lifetime in hours, as the public API documents it. */
export const MIN_URL_EXPIRY_HOURS = 1;
export const MAX_URL_EXPIRY_HOURS = 168;
export const DEFAULT_URL_EXPIRY_HOURS = 12;

export const DEFAULT_LIST_LIMIT = 20;
export const MAX_LIST_LIMIT = 100;

/** `metadata` on start: a small string-to-string map (sizes are UTF-8 bytes), as S3 keeps object metadata small. */
export const MAX_METADATA_KEYS = 32;
export const MAX_METADATA_KEY_BYTES = 128;
export const MAX_METADATA_VALUE_BYTES = 1024;
export const MAX_METADATA_TOTAL_BYTES = 8 * 1024;
