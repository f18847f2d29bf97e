import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { basename } from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as NodeWebReadableStream } from "node:stream/web";
import { FileChangedError } from "./errors";
import { isChunkedPart, type ChunkedPart, type UploadSource } from "./upload-source";

/** The size of each read from the file: large enough that per-chunk work (a read, a socket write, an MD5 update, a
 * progress call) costs little, small enough that a part in flight holds little memory (two of these). */
const FILE_CHUNK = 512 * 1024;

/** A file on disk as an upload's source: its size from the open file itself, every part read by its offset. */
export interface FileSource extends UploadSource {
  readonly path: string;
  readonly name: string;
  slice(start: number, end: number): ChunkedPart;
  checkUnchanged(): Promise<void>;
  /** Closes the file (after the reads in progress). */
  close(): Promise<void>;
}

/**
 * Opens the file at `path` for an upload. The size is the open file's (`fstat`), never `fs.openAsBlob`'s (wrong from
 * 4 GiB on: nodejs/node#52585), and every read goes to the same open file, so a file renamed or replaced meanwhile is
 * still read as it was opened. Each part checks that the file still has that size and gives exactly its bytes.
 */
export async function openFileSource(path: string): Promise<FileSource> {
  const file = await open(path, "r");
  try {
    const opened = await file.stat();
    if (!opened.isFile()) throw new TypeError(`${path} is not a file`);
    return new OpenFile(path, file, opened.size, opened.mtimeMs);
  } catch (error) {
    await file.close();
    throw error;
  }
}

class OpenFile implements FileSource {
  readonly name: string;

  constructor(
    readonly path: string,
    private readonly file: FileHandle,
    readonly size: number,
    private readonly mtimeMs: number,
  ) {
    this.name = basename(path);
  }

  slice(start: number, end: number): ChunkedPart {
    const from = Math.min(Math.max(0, start), this.size);
    return new FilePart(
      (offset, length) => this.read(offset, length),
      from,
      Math.max(0, Math.min(end, this.size) - from),
    );
  }

  async checkUnchanged(): Promise<void> {
    const now = await this.file.stat();
    if (now.size !== this.size)
      throw this.changed(`it had ${this.size} bytes when the upload started and has ${now.size} now`);
    if (now.mtimeMs !== this.mtimeMs) throw this.changed("it was modified during the upload");
  }

  close(): Promise<void> {
    return this.file.close();
  }

  /** Bytes `offset` to `offset + length`, read into two buffers used in turn (see `ChunkedPart.chunks`). */
  private async *read(offset: number, length: number): AsyncGenerator<Uint8Array> {
    await this.checkUnchanged();
    const size = Math.min(FILE_CHUNK, length);
    const buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
    let done = 0;
    for (let turn = 0; done < length; turn ^= 1) {
      const buffer = buffers[turn]!;
      const { bytesRead } = await this.file.read(buffer, 0, Math.min(buffer.length, length - done), offset + done);
      if (bytesRead === 0) throw this.changed(`it ends before byte ${offset + done} of the ${this.size} it had`);
      done += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  }

  private changed(why: string): FileChangedError {
    return new FileChangedError(`${this.path} changed during the upload (${why}): nothing was completed.`, undefined);
  }
}

/** A range of an open file, shaped as a `Blob` (so hashers and transports written for Blobs take it), read on demand. */
class FilePart implements ChunkedPart {
  readonly type = "";

  constructor(
    private readonly reader: (offset: number, length: number) => AsyncIterable<Uint8Array>,
    private readonly offset: number,
    readonly size: number,
  ) {}

  chunks(): AsyncIterable<Uint8Array> {
    return this.reader(this.offset, this.size);
  }

  stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    // A web stream queues what it is given: each chunk is copied out of the reused buffers.
    return Readable.toWeb(Readable.from(copies(this.chunks()), { objectMode: false })) as ReadableStream<
      Uint8Array<ArrayBuffer>
    >;
  }

  async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    const whole = new Uint8Array(this.size);
    let at = 0;
    for await (const chunk of this.chunks()) {
      whole.set(chunk, at);
      at += chunk.length;
    }
    return whole;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return (await this.bytes()).buffer;
  }

  async text(): Promise<string> {
    return new TextDecoder().decode(await this.bytes());
  }

  slice(start = 0, end = this.size): FilePart {
    const from = Math.min(Math.max(0, start < 0 ? this.size + start : start), this.size);
    const to = Math.min(Math.max(0, end < 0 ? this.size + end : end), this.size);
    return new FilePart(this.reader, this.offset + from, Math.max(0, to - from));
  }
}

/** The chunks as fresh copies, for consumers that may hold on to them. */
async function* copies(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) yield Uint8Array.prototype.slice.call(chunk);
}

/**
 * `chunks` passed through, failing with `FileChangedError` as soon as they come to more than `size` bytes, or when they
 * end short of it: a part is never sent, nor hashed, with other bytes than the plan gave it (a `Blob` that misreports
 * its size, as `fs.openAsBlob`'s do from 4 GiB on, would otherwise be stored cut without any check noticing).
 */
export async function* exactly(
  size: number,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const chunk of chunks) {
    total += chunk.length;
    if (total > size) break;
    yield chunk;
  }
  if (total !== size) {
    const gave = total > size ? `more than ${size} bytes` : `${total} bytes`;
    throw new FileChangedError(
      `The file gave ${gave} for a part of ${size}: it is not the size it said, or it changed during the upload.`,
      undefined,
    );
  }
}

/** Reads `body`'s bytes however it offers them: its reusable chunks, else its stream. */
export function chunksOf(body: Blob): AsyncIterable<Uint8Array> {
  return isChunkedPart(body) ? body.chunks() : Readable.fromWeb(body.stream() as NodeWebReadableStream<Uint8Array>);
}
