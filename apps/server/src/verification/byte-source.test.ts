import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  bufferByteSource,
  countingByteSource,
  limitedByteSource,
  readAheadByteSource,
  ReadLimitError,
  type ByteSource,
} from "./byte-source";

const data = randomBytes(10_000);
const far = () => Date.now() + 60_000;

describe("bufferByteSource", () => {
  it("answers the asked bytes, fewer at the end, none past it", async () => {
    const source = bufferByteSource(data);
    expect(Buffer.from(await source.read(100, 50))).toEqual(data.subarray(100, 150));
    expect(Buffer.from(await source.read(9_990, 50))).toEqual(data.subarray(9_990));
    expect((await source.read(10_000, 5)).length).toBe(0);
    expect((await source.read(20_000, 5)).length).toBe(0);
  });
});

describe("readAheadByteSource", () => {
  it("serves many small reads from few reads below, with the right bytes", async () => {
    const { source, stats } = countingByteSource(bufferByteSource(data));
    const cached = readAheadByteSource(source, { blockSize: 4096 });
    for (let offset = 0; offset < 4000; offset += 8) {
      expect(Buffer.from(await cached.read(offset, 8))).toEqual(data.subarray(offset, offset + 8));
    }
    expect(stats.requests).toBe(1);
    expect(stats.bytes).toBe(4096);
  });

  it("reads a read larger than a block whole, and stops at the object's end", async () => {
    const { source, stats } = countingByteSource(bufferByteSource(data));
    const cached = readAheadByteSource(source, { blockSize: 1024 });
    expect(Buffer.from(await cached.read(9_000, 5_000))).toEqual(data.subarray(9_000));
    expect(stats.bytes).toBe(1_000);
    expect((await cached.read(10_000, 10)).length).toBe(0);
    expect(stats.requests).toBe(1);
  });

  it("keeps a few blocks, dropping the least recently used", async () => {
    const { source, stats } = countingByteSource(bufferByteSource(data));
    const cached = readAheadByteSource(source, { blockSize: 1000, blocks: 2 });
    await cached.read(0, 10); // block 0
    await cached.read(5000, 10); // block 5000
    await cached.read(0, 10); // block 0 again: kept, now most recent
    await cached.read(8000, 10); // drops block 5000
    expect(stats.requests).toBe(3);
    await cached.read(0, 10);
    expect(stats.requests).toBe(3);
    await cached.read(5000, 10);
    expect(stats.requests).toBe(4);
  });

  it("hands out copies: a caller changing its bytes does not change the cache", async () => {
    const cached = readAheadByteSource(bufferByteSource(data));
    const first = await cached.read(0, 16);
    first.fill(0);
    expect(Buffer.from(await cached.read(0, 16))).toEqual(data.subarray(0, 16));
  });

  it("refuses a read cut short by a limit below, rather than answer fewer bytes than exist", async () => {
    const limited = limitedByteSource(bufferByteSource(data), { maxBytes: 100, deadline: far() });
    const cached = readAheadByteSource(limited, { blockSize: 4096 });
    await expect(cached.read(0, 200)).rejects.toBeInstanceOf(ReadLimitError);
  });
});

describe("limitedByteSource", () => {
  it("reads at most maxBytes in all, then refuses", async () => {
    const { source, stats } = countingByteSource(bufferByteSource(data));
    const limited = limitedByteSource(source, { maxBytes: 1_500, deadline: far() });
    expect((await limited.read(0, 1_000)).length).toBe(1_000);
    expect((await limited.read(1_000, 1_000)).length).toBe(500);
    await expect(limited.read(2_000, 1)).rejects.toMatchObject({ name: "ReadLimitError", limit: "bytes" });
    expect(stats.bytes).toBe(1_500);
  });

  it("refuses reads after the deadline, and gives up a read that waits past it", async () => {
    const expired = limitedByteSource(bufferByteSource(data), { maxBytes: 1_000_000, deadline: Date.now() - 1 });
    await expect(expired.read(0, 10)).rejects.toMatchObject({ message: "time limit reached", limit: "time" });
    const never: ByteSource = { size: 100, read: () => new Promise<Uint8Array>(() => {}) };
    const waiting = limitedByteSource(never, { maxBytes: 1_000, deadline: Date.now() + 50 });
    await expect(waiting.read(0, 10)).rejects.toMatchObject({ message: "time limit reached", limit: "time" });
  });
});
