import type * as FileType from "file-type" with { "resolution-mode": "import" };
import { isByteLimit, type ByteSource } from "./byte-source";

/** `file-type`'s module: ESM only, so this CommonJS package loads it with `import()` (kept as such by `NodeNext`). */
type FileTypeModule = typeof FileType;

let fileTypeModule: Promise<FileTypeModule> | undefined;

function loadFileType(): Promise<FileTypeModule> {
  fileTypeModule ??= import("file-type");
  return fileTypeModule;
}

/**
 * The MIME type `file-type` finds in the object's signature (magic numbers, container headers), `undefined` when it
 * knows none. It reads through `source` at random (a ZIP's directory, an ID3 tag's length, an MP4's boxes); give it a
 * limited source. A read refused by the byte limit ends the detection with nothing found, as a truncated file does;
 * a read that fails otherwise (the store, the time limit) is thrown.
 */
export async function signatureType(source: ByteSource): Promise<string | undefined> {
  const { fileTypeFromBlob } = await loadFileType();
  let sourceFailure: Error | undefined;
  const watched: ByteSource = {
    size: source.size,
    read: (offset, length) =>
      source.read(offset, length).catch((error: unknown) => {
        sourceFailure ??= error instanceof Error ? error : new Error(String(error));
        throw sourceFailure;
      }),
  };
  try {
    const found = await fileTypeFromBlob(blobOf(watched));
    return found?.mime;
  } catch (error) {
    // The store failing is not a property of the bytes: the caller must retry, not judge them unknown.
    if (sourceFailure !== undefined && !isByteLimit(sourceFailure)) throw sourceFailure;
    // file-type gave up on the bytes (its own limits, a structure it cannot follow) or on our read limit.
    void error;
    return undefined;
  }
}

/**
 * `source` as the part of a `Blob` that `file-type`'s random-access tokenizer (strtok3's `BlobTokenizer`) uses: its
 * size, and `slice(start, end).arrayBuffer()`. Each slice is a read of `source`.
 */
function blobOf(source: ByteSource): Blob {
  const blobLike = {
    size: source.size,
    type: "",
    slice: (start = 0, end = source.size) => ({
      arrayBuffer: async () => {
        const bytes = await source.read(start, Math.max(0, end - start));
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      },
    }),
  };
  return blobLike as unknown as Blob;
}
