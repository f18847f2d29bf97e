import { createReadStream } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { PART_HEADER_SIZE } from "./local-part-file";

/** Where a completed object's bytes are: its part files, in order, each `size` bytes after its header. */
export interface ObjectLayout {
  dir: string;
  parts: readonly { file: string; size: number }[];
}

/** Large reads: a download is sequential, and each read is one trip through libuv's thread pool. */
const READ_CHUNK = 1024 * 1024;

/**
 * The bytes `start` to `end` (inclusive) of an object stored as part files, read one part file after the other: the
 * download streams across the parts, so completing an upload never had to copy them into one file.
 */
export function readObjectRange(layout: ObjectLayout, start: number, end: number): Readable {
  return Readable.from(rangeChunks(layout, start, end), { objectMode: false, highWaterMark: READ_CHUNK });
}

async function* rangeChunks(layout: ObjectLayout, start: number, end: number): AsyncGenerator<Buffer> {
  let offset = 0; // of the current part within the object
  for (const part of layout.parts) {
    const partEnd = offset + part.size - 1;
    if (part.size > 0 && partEnd >= start && offset <= end) {
      const from = Math.max(start, offset) - offset;
      const to = Math.min(end, partEnd) - offset;
      yield* createReadStream(join(layout.dir, part.file), {
        start: PART_HEADER_SIZE + from,
        end: PART_HEADER_SIZE + to,
        highWaterMark: READ_CHUNK,
      }) as AsyncIterable<Buffer>;
    }
    offset += part.size;
    if (offset > end) return;
  }
}
