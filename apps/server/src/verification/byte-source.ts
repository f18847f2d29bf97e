/**
 * Random access to an object's bytes, whatever holds them: what the inspectors and scanners read through, so that
 * they never need (or get) the whole object. `read` answers fewer bytes than asked only at the object's end.
 */
export interface ByteSource {
  /** The object's size in bytes. */
  readonly size: number;
  /** Up to `length` bytes from `offset`: fewer only where the object ends, none from its end on. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** What was read through a counting source: the requests that reached the source below it, and their bytes. */
export interface ReadStats {
  requests: number;
  bytes: number;
}

/** A source over bytes in memory (tests, small objects). */
export function bufferByteSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: (offset, length) =>
      Promise.resolve(bytes.slice(clamp(offset, bytes.length), clamp(offset + length, bytes.length))),
  };
}

/** `source`, counting each read and its bytes into `stats` (kept live: read it any time). */
export function countingByteSource(source: ByteSource): { source: ByteSource; stats: ReadStats } {
  const stats: ReadStats = { requests: 0, bytes: 0 };
  return {
    stats,
    source: {
      size: source.size,
      async read(offset, length) {
        stats.requests++;
        const bytes = await source.read(offset, length);
        stats.bytes += bytes.length;
        return bytes;
      },
    },
  };
}

export interface ReadAheadOptions {
  /** The fewest bytes one read of the source below asks for (default 256 KiB). */
  blockSize?: number;
  /** How many fetched ranges are kept, the least recently used dropped first (default 8). */
  blocks?: number;
}

interface Block {
  offset: number;
  bytes: Uint8Array;
}

/**
 * `source` behind a small read-ahead cache: a read the kept ranges cover costs nothing below, and one they do not
 * fetches at least `blockSize` bytes from its offset. Parsers ask for many small reads (a box header here, the next
 * one there): each would otherwise be one store request. Memory: at most `blocks` ranges of `blockSize` (or of the
 * largest single read asked).
 */
export function readAheadByteSource(source: ByteSource, options: ReadAheadOptions = {}): ByteSource {
  const blockSize = options.blockSize ?? 256 * 1024;
  const capacity = options.blocks ?? 8;
  const kept: Block[] = []; // most recently used last
  return {
    size: source.size,
    async read(offset, length) {
      const start = clamp(offset, source.size);
      const end = clamp(offset + length, source.size);
      if (end <= start) return new Uint8Array(0);
      const index = kept.findIndex((b) => b.offset <= start && end <= b.offset + b.bytes.length);
      if (index >= 0) {
        const block = kept[index]!;
        kept.splice(index, 1);
        kept.push(block);
        return block.bytes.slice(start - block.offset, end - block.offset);
      }
      const bytes = await source.read(start, Math.max(end - start, Math.min(blockSize, source.size - start)));
      // Short of the object's end only when a limit below cut the read: never hand a parser fewer bytes than exist.
      if (bytes.length < end - start)
        throw new ReadLimitError(`read of ${end - start} bytes at ${start} cut short`, "bytes");
      kept.push({ offset: start, bytes });
      if (kept.length > capacity) kept.shift();
      return bytes.slice(0, end - start);
    },
  };
}

/**
 * A read refused by a limit: `bytes` (the object is more than its inspection may read: a property of the bytes) or
 * `time` (the store or the machine was too slow: says nothing of the bytes, retry).
 */
export class ReadLimitError extends Error {
  override name = "ReadLimitError";
  constructor(
    message: string,
    readonly limit: "bytes" | "time",
  ) {
    super(message);
  }
}

/** Whether `error` is a read refused by the byte limit (not by time, not a failure of the source). */
export function isByteLimit(error: unknown): boolean {
  return error instanceof ReadLimitError && error.limit === "bytes";
}

/**
 * `source`, reading at most `maxBytes` through it in all: a read that would pass the limit is cut to what is left (put
 * a `readAheadByteSource` above it, which refuses a cut read), and one when nothing is left fails with a
 * `ReadLimitError`, as does a read once `deadline` (a `Date.now()` value) passed or still waiting on the source then.
 * What bounds an inspection of a hostile or huge object in bytes and time.
 */
export function limitedByteSource(source: ByteSource, limits: { maxBytes: number; deadline: number }): ByteSource {
  let read = 0;
  return {
    size: source.size,
    async read(offset, length) {
      if (read >= limits.maxBytes) throw new ReadLimitError(`read limit of ${limits.maxBytes} bytes reached`, "bytes");
      const remaining = limits.deadline - Date.now();
      if (remaining <= 0) throw new ReadLimitError("time limit reached", "time");
      const bytes = await withTimeout(source.read(offset, Math.min(length, limits.maxBytes - read)), remaining);
      read += bytes.length;
      return bytes;
    },
  };
}

/** `work`'s result, or a `ReadLimitError` once `ms` passed (`work` then goes on unobserved; its failure is ignored). */
export async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ReadLimitError("time limit reached", "time")), ms);
  });
  work.catch(() => {});
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function clamp(value: number, size: number): number {
  return Math.max(0, Math.min(value, size));
}
