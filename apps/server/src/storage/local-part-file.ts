import { createHash } from "node:crypto";
import { close, fsync, open, read, writev } from "node:fs";
import type { Readable } from "node:stream";
import { promisify } from "node:util";
import type { StorageError } from "./storage.port";

/**
 * One stored part of the embedded store: a file holding a small header and then the part's bytes. The header carries
 * the part's size and MD5, so that the file is everything there is to know about the part and one `rename` stores or
 * replaces a part atomically (a name carrying the MD5 would need a second file, and two writers of one part would each
 * have to delete the other's).
 *
 *   0   4  magic "UGP1"
 *   4   4  reserved (zero)
 *   8   8  size of the part in bytes, unsigned big-endian
 *   16  16 MD5 of the part
 *   32  …  the part's bytes
 */
export const PART_HEADER_SIZE = 32;
const MAGIC = 0x55475031; // "UGP1"

export interface PartHeader {
  size: number;
  md5: Buffer;
}

export function encodePartHeader(header: PartHeader): Buffer {
  const buffer = Buffer.alloc(PART_HEADER_SIZE);
  buffer.writeUInt32BE(MAGIC, 0);
  buffer.writeBigUInt64BE(BigInt(header.size), 8);
  header.md5.copy(buffer, 16);
  return buffer;
}

/** The header of a part file, or undefined when the file is not one (too short, or another format). */
export function decodePartHeader(buffer: Buffer): PartHeader | undefined {
  if (buffer.length < PART_HEADER_SIZE || buffer.readUInt32BE(0) !== MAGIC) return undefined;
  return { size: Number(buffer.readBigUInt64BE(8)), md5: Buffer.from(buffer.subarray(16, 32)) };
}

export const openFile = promisify(open);
export const closeFile = promisify(close);
export const syncFile = promisify(fsync);
const readFile = promisify(read);

/** Reads a part file's header; undefined when the file is missing or is not a part file. */
export async function readPartHeader(path: string): Promise<PartHeader | undefined> {
  let fd: number;
  try {
    fd = await openFile(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    const buffer = Buffer.allocUnsafe(PART_HEADER_SIZE);
    const { bytesRead } = await readFile(fd, buffer, 0, PART_HEADER_SIZE, 0);
    return decodePartHeader(buffer.subarray(0, bytesRead));
  } finally {
    await closeFile(fd);
  }
}

export interface ReceiveLimits {
  /** The exact size the part must have (its URL is signed for it); a body of any other length is refused. */
  expectedSize?: number;
  /** The largest part accepted at all. */
  maxSize: number;
  /** The MD5 the client says the body has (`Content-MD5`); the part is refused when the body's differs. */
  expectedMd5?: Buffer;
  /** `fsync` the file before it is reported written. */
  durable: boolean;
}

/** Errors a refused body is reported with; the store maps them to `StorageError`s. */
export interface ReceiveErrors {
  /** More than `limit` bytes arrived (the expected size, or the largest part at all). */
  tooLarge(received: number, limit: number): StorageError;
  /** The body ended after `received` bytes, short of `expected`. */
  tooShort(received: number, expected: number): StorageError;
  badDigest(): StorageError;
}

/** Bytes queued for the disk before the body is paused: large writes, bounded memory. */
const QUEUE_LIMIT = 8 * 1024 * 1024;

/**
 * Streams `body` into the open file `fd` after the header, hashing each chunk as it arrives, then writes the header
 * (and `fsync`s when durable). The bytes are never copied: each chunk the socket delivers is hashed and handed to
 * `writev` as it is, in batches of whatever arrived while the previous write was on the disk; the body is paused while
 * more than 8 MiB wait. The listeners added to `body` are removed when this settles.
 */
export function receivePart(
  fd: number,
  body: Readable,
  limits: ReceiveLimits,
  errors: ReceiveErrors,
): Promise<PartHeader> {
  return new Promise<PartHeader>((resolve, reject) => {
    const hash = createHash("md5");
    let received = 0;
    let position = PART_HEADER_SIZE;
    let queue: Buffer[] = [];
    let queued = 0;
    let writing = false;
    let ended = false;
    let settled = false;
    let failure: Error | undefined;
    const limit = Math.min(limits.maxSize, limits.expectedSize ?? Infinity);

    const detach = () => {
      body.off("data", onData);
      body.off("end", onEnd);
      body.off("error", onError);
      body.off("close", onClose);
    };
    const fail = (error: unknown) => {
      if (settled || failure !== undefined) return;
      failure = error instanceof Error ? error : new Error(String(error));
      detach();
      // The body is not read any further; the caller answers and closes the connection.
      if (!writing) finish();
    };
    const finish = () => {
      if (settled) return;
      settled = true;
      if (failure !== undefined) return reject(failure);
      detach();
      void writeHeader().then(resolve, reject);
    };
    const writeHeader = async (): Promise<PartHeader> => {
      if (limits.expectedSize !== undefined && received !== limits.expectedSize)
        throw errors.tooShort(received, limits.expectedSize);
      const header = { size: received, md5: hash.digest() };
      if (limits.expectedMd5 && !limits.expectedMd5.equals(header.md5)) throw errors.badDigest();
      await writeAll(fd, [encodePartHeader(header)], 0);
      if (limits.durable) await syncFile(fd);
      return header;
    };
    const flush = () => {
      if (failure !== undefined) return finish();
      if (queue.length === 0) {
        if (ended) finish();
        return;
      }
      const batch = queue;
      const bytes = queued;
      queue = [];
      queued = 0;
      writing = true;
      if (body.isPaused() && !ended) body.resume();
      writeAll(fd, batch, position).then(
        () => {
          writing = false;
          position += bytes;
          flush();
        },
        (error: unknown) => {
          writing = false;
          fail(error);
          finish();
        },
      );
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) return fail(errors.tooLarge(received, limit));
      hash.update(chunk);
      queue.push(chunk);
      queued += chunk.length;
      if (queued >= QUEUE_LIMIT) body.pause();
      if (!writing) flush();
    };
    const onEnd = () => {
      ended = true;
      if (!writing) flush();
    };
    const onError = (error: Error) => fail(error);
    // A body cut before its end (the client went away, or a timeout destroyed it) closes without `end`.
    const onClose = () => {
      if (!ended) fail(Object.assign(new Error("The part's body was cut off before its end."), { code: "ECONNRESET" }));
    };

    body.on("data", onData);
    body.on("end", onEnd);
    body.on("error", onError);
    body.on("close", onClose);
    // The body may have ended or been cut while the upload was being looked up.
    if (body.readableEnded) onEnd();
    else if (body.destroyed) onClose();
  });
}

/** Writes every buffer at `position`, continuing after short writes. */
async function writeAll(fd: number, buffers: Buffer[], position: number): Promise<void> {
  let pending = buffers;
  let at = position;
  while (pending.length > 0) {
    const written = await new Promise<number>((resolve, reject) =>
      writev(fd, pending, at, (error, bytes) => (error ? reject(error) : resolve(bytes))),
    );
    at += written;
    pending = dropWritten(pending, written);
  }
}

function dropWritten(buffers: Buffer[], written: number): Buffer[] {
  let left = written;
  let index = 0;
  while (index < buffers.length && left >= buffers[index]!.length) left -= buffers[index++]!.length;
  if (index === buffers.length) return [];
  return [buffers[index]!.subarray(left), ...buffers.slice(index + 1)];
}
