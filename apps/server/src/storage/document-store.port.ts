/**
 * The document store: small JSON documents written with compare-and-swap (records, reservations, markers, ledgers,
 * the webhook outbox), as tus keeps its upload metadata in a key-value store apart from its data store. Adapters
 * know nothing of Nest or HTTP and report a store they cannot reach as a `StorageError` of reason `unavailable`.
 */

export interface KeyPage {
  keys: string[];
  /** True when more keys follow the last one returned. */
  isTruncated: boolean;
}

/** A JSON document as stored, with the token of this version of it. */
export interface StoredDocument {
  value: unknown;
  /**
   * Opaque token of the version read (S3: the object's ETag, unquoted). Pass it as `ifMatch` to write only if nobody
   * wrote the document since.
   */
  version: string;
}

/** What a write that succeeded tells: the version it wrote, when the store says. */
export interface WrittenDocument {
  version?: string;
}

/** Preconditions of a write; a write whose precondition fails changes nothing. */
export interface WriteConditions {
  /** Write only if no document exists at the key (S3's `If-None-Match: *`). */
  ifNoneMatch?: boolean;
  /** Write only if the document's current version is this one (S3's `If-Match`): a compare-and-swap. */
  ifMatch?: string;
}

export interface DocumentStore {
  /** Reads a small JSON document; `undefined` when there is none. */
  readJson(key: string): Promise<unknown>;
  /** Reads a small JSON document and its version; `undefined` when there is none. */
  readDocument(key: string): Promise<StoredDocument | undefined>;
  /**
   * Writes a small JSON document. With a condition, the check and the write are one atomic step, also against
   * concurrent writers in other processes of a store that has them: of several writers conditioned on the same state,
   * exactly one succeeds. Returns false when the condition failed (`ifMatch` of a missing document fails too).
   */
  writeJson(key: string, value: unknown, options?: WriteConditions): Promise<boolean>;
  /**
   * `writeJson` that also tells the version it wrote: a compare-and-swap right after the write is conditioned on it
   * without reading the document again (one request instead of two). Undefined when the condition failed; `version`
   * absent when the store did not say. Optional for an adapter of one's own: without it, `writeVersioned` falls back
   * to `writeJson`, and the next compare-and-swap reads first.
   */
  writeDocument?(key: string, value: unknown, options?: WriteConditions): Promise<WrittenDocument | undefined>;
  /** Keys of documents under `prefix`, ascending, after `startAfter`, at most `limit`. */
  listKeys(prefix: string, options: { startAfter?: string; limit: number }): Promise<KeyPage>;
  /** Deletes a document; deleting a missing document is not an error. */
  deleteDocument(key: string): Promise<void>;
  /** Throws a `StorageError` with reason `unavailable` when the store cannot serve requests. */
  checkReady(): Promise<void>;
}

/** Writes through `writeDocument` where the store has it, else `writeJson` (the version then unknown). */
export async function writeVersioned(
  store: Pick<DocumentStore, "writeJson" | "writeDocument">,
  key: string,
  value: unknown,
  options?: WriteConditions,
): Promise<WrittenDocument | undefined> {
  if (store.writeDocument) return store.writeDocument(key, value, options);
  return (await store.writeJson(key, value, options)) ? {} : undefined;
}

/** Whether a `writeDocument` wrote: the `writeJson` of an adapter that has `writeDocument`. */
export async function wrote(written: Promise<WrittenDocument | undefined>): Promise<boolean> {
  return (await written) !== undefined;
}
