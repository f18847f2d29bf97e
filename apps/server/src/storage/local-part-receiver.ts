import { createHmac } from "node:crypto";
import type { Readable } from "node:stream";
import { FILE_MODE, type LocalDataDir } from "./local-data-dir";
import { closeFile, openFile, receivePart, type PartHeader, type ReceiveErrors } from "./local-part-file";
import type { ExpectedBody } from "./served-store";
import { StorageError } from "./storage-error";

/** A stored part's file name: one fixed name per part number, so that storing a part again replaces it by `rename`. */
export function partFileName(partNumber: number): string {
  return `part-${String(partNumber).padStart(5, "0")}`;
}

export const PART_FILE = /^part-(\d{5})$/;

/**
 * Receives PUT bodies into part files (local-part-file.ts) for the embedded store's multipart uploads and single PUTs
 * alike, and names their ETags: the part's MD5, or with `opaque` ETags an HMAC of it (as S3 answers with SSE-KMS).
 */
export class LocalPartReceiver {
  constructor(
    private readonly dataDir: LocalDataDir,
    private readonly options: { durable: boolean; opaqueETags: boolean; signingSecret: Buffer },
  ) {}

  /** Refuses a declared length other than the granted size before anything is read. */
  checkDeclared(body: Readable, expected: ExpectedBody): void {
    // Errors of a body cut while the store looks things up must not go unhandled; receivePart reports them.
    body.on("error", ignore);
    const { expectedSize, declaredLength } = expected;
    if (declaredLength !== undefined && declaredLength !== expectedSize) {
      throw wrongPartSize(declaredLength, expectedSize);
    }
  }

  /**
   * Streams `body` into a new file at `path` (MD5 computed as it arrives): refused as soon as it exceeds the size or
   * when it ends short of it, or when its MD5 differs from `contentMd5`. The file is closed either way; a refused body's
   * file is the caller's to remove.
   */
  async receive(path: string, body: Readable, expected: ExpectedBody, maxSize: number): Promise<PartHeader> {
    const fd = await this.dataDir.io(() => openFile(path, "wx", FILE_MODE));
    let header: PartHeader;
    try {
      header = await receivePart(
        fd,
        body,
        { expectedSize: expected.expectedSize, maxSize, expectedMd5: expected.contentMd5, durable: this.durable },
        RECEIVE_ERRORS,
      );
    } catch (error) {
      await closeFile(fd).catch(() => {});
      throw error;
    }
    await this.dataDir.io(() => closeFile(fd));
    return header;
  }

  get durable(): boolean {
    return this.options.durable;
  }

  /** The ETag of a part with this MD5, quoted. */
  eTagOf(md5: Buffer): string {
    if (!this.options.opaqueETags) return `"${md5.toString("hex")}"`;
    const hmac = createHmac("sha256", this.options.signingSecret).update("opaque-etag\n").update(md5);
    return `"${hmac.digest("hex").slice(0, 32)}"`;
  }
}

/** A part body of `size` bytes (or at least that many, when refused midway) where its URL grants `expected`. */
export function wrongPartSize(size: number, expected: number): StorageError {
  return size > expected
    ? new StorageError("part-too-large", `The part is larger than the ${expected} bytes its URL was signed for.`)
    : new StorageError("part-size-mismatch", `The part is ${size} bytes; its URL was signed for exactly ${expected}.`);
}

const RECEIVE_ERRORS: ReceiveErrors = {
  tooLarge: (received, limit) => wrongPartSize(received, limit),
  tooShort: (received, expected) => wrongPartSize(received, expected),
  badDigest: () => new StorageError("bad-digest", "The part's bytes do not match its Content-MD5 header."),
};

function ignore(): void {}
