/** How every store reports a failure: one of a few reasons, mapped once to the contract's codes (errors/). */

export type StorageErrorReason =
  | "upload-not-found"
  | "invalid-part"
  | "invalid-part-order"
  | "part-too-small"
  | "part-too-large"
  | "part-size-mismatch"
  | "bad-digest"
  | "object-exists"
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
