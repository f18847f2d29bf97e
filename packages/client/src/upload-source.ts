/**
 * What the uploader reads: a `Blob` or `File` (browsers, Deno, Bun), or a file on disk opened by the Node entry
 * (`openFileSource`). Node's `fs.openAsBlob` is not one to use for large files: it reports the size modulo 4 GiB and
 * gives empty slices past 2 GiB (nodejs/node#52585), so a 5 GiB file would be planned, sent and stored as 1 GiB.
 */
export interface UploadSource {
  /** The file's size in bytes: any whole number up to 5 TiB. */
  readonly size: number;
  readonly name?: string;
  readonly type?: string;
  /** Bytes `start` to `end` (exclusive) as a Blob, or a Blob-shaped part read only when it is sent or hashed. */
  slice(start: number, end: number): Blob;
  /**
   * Fails with `FileChangedError` if the file is not as it was when the upload started (size, modification time):
   * asked before completing, so an upload of a file that changed under it is never completed.
   */
  checkUnchanged?(): Promise<void>;
}

/**
 * A part that can give its bytes as chunks reusing their buffers (a chunk is valid until the one after the next is
 * asked for): a file's parts in Node, so transports and hashers skip the stream machinery.
 */
export interface ChunkedPart extends Blob {
  chunks(): AsyncIterable<Uint8Array>;
}

export function isChunkedPart(part: Blob): part is ChunkedPart {
  return typeof (part as Partial<ChunkedPart>).chunks === "function";
}
