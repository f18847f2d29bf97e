import { createHash } from "node:crypto";
import {
  appendFileSync,
  mkdtempSync,
  openSync,
  closeSync,
  rmSync,
  writeSync,
  ftruncateSync,
  truncateSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GiB, MiB } from "@upload-gateway/contract";
import { FileChangedError } from "./errors";
import { exactly, openFileSource } from "./file-source";
import { nodeMd5Hasher, uploadFile } from "./node";
import { planForUpload } from "./uploader";
import type { ApiClient } from "./api-client";

const dir = mkdtempSync(join(tmpdir(), "file-source-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The byte a sparse test file holds at `offset`: zero except for a marker written around each 2 GiB boundary. */
const marker = (offset: number) => ((offset * 2654435761) >>> 24) | 1;
const MARKED = [0, 2 * GiB - 3, 2 * GiB, 4 * GiB - 3, 4 * GiB, 5 * GiB];

/**
 * A sparse file of `size` bytes (costs no disk), with 8 marked bytes at each of MARKED (where they fit) and its last
 * byte marked, so reads past 2 and 4 GiB show where they read from.
 */
function sparseFile(size: number): { path: string; expected: (offset: number) => number; marks: Map<number, number> } {
  const path = join(dir, `sparse-${size}.bin`);
  const fd = openSync(path, "w");
  ftruncateSync(fd, size);
  const marks = new Map<number, number>();
  for (const at of [...MARKED, size - 1]) {
    for (let i = 0; i < 8 && at + i < size; i++) marks.set(at + i, marker(at + i));
  }
  for (const [at, value] of marks) writeSync(fd, Buffer.from([value]), 0, 1, at);
  closeSync(fd);
  return { path, expected: (offset) => marks.get(offset) ?? 0, marks };
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<number[]> {
  const bytes: number[] = [];
  for await (const chunk of chunks) bytes.push(...chunk);
  return bytes;
}

const SIZES = [
  ["2 GiB", 2 * GiB],
  ["4 GiB", 4 * GiB],
  ["4 GiB + 1 B", 4 * GiB + 1],
  ["5 GiB + 3 B", 5 * GiB + 3],
] as const;

describe.each(SIZES)("a sparse file of %s", (_name, size) => {
  const file = sparseFile(size);

  it("has its exact size, and is planned for all of it (fs.openAsBlob reports it modulo 4 GiB)", async () => {
    const source = await openFileSource(file.path);
    try {
      expect(source.size).toBe(size);
      const plan = planForUpload(source.size);
      expect(plan.contentLength).toBe(size);
      expect(plan.partsNumber).toBe(Math.ceil(size / (16 * MiB)));
      expect(plan.partSize * (plan.partsNumber - 1) + plan.lastPartSize).toBe(size);
      // Every part's slice has the size the plan gives it, the last one included.
      const last = source.slice((plan.partsNumber - 1) * plan.partSize, size);
      expect(last.size).toBe(plan.lastPartSize);
    } finally {
      await source.close();
    }
  });

  it("gives the bytes at offsets past 2 and 4 GiB from where they are in the file", async () => {
    const source = await openFileSource(file.path);
    try {
      for (const at of [...MARKED, size - 8].filter((o) => o >= 0 && o < size)) {
        const end = Math.min(at + 8, size);
        const want = Array.from({ length: end - at }, (_, i) => file.expected(at + i));
        const part = source.slice(at, end);
        expect(await collect(part.chunks()), `chunks at ${at}`).toEqual(want);
        expect(await collect(part.stream() as unknown as AsyncIterable<Uint8Array>), `stream at ${at}`).toEqual(want);
        expect([...new Uint8Array(await part.arrayBuffer())], `arrayBuffer at ${at}`).toEqual(want);
        // A slice of a part is relative to the part, as a Blob's is.
        expect([...new Uint8Array(await part.slice(1, 3).arrayBuffer())]).toEqual(want.slice(1, 3));
      }
    } finally {
      await source.close();
    }
  });

  it("hashes the last part (past every boundary) from its own bytes", async () => {
    const source = await openFileSource(file.path);
    try {
      const plan = planForUpload(size);
      const start = (plan.partsNumber - 1) * plan.partSize;
      const bytes = Buffer.alloc(plan.lastPartSize);
      for (const [at, value] of file.marks) if (at >= start) bytes[at - start] = value;
      const md5 = createHash("md5").update(bytes).digest("hex");
      expect(await nodeMd5Hasher(source.slice(start, size))).toBe(md5);
    } finally {
      await source.close();
    }
  });

  it("is started by uploadFile with its exact size and part count", async () => {
    const starts: { contentLength: string; partsNumber: number }[] = [];
    const client = {
      start: (_project: string, body: { contentLength: string; partsNumber: number }) => {
        starts.push(body);
        return Promise.reject(new Error("stop here"));
      },
    } as unknown as ApiClient;
    await expect(uploadFile(file.path, { client, projectId: "p", retry: { retries: 0 } })).rejects.toThrow(/stop here/);
    expect(starts).toEqual([
      expect.objectContaining({ contentLength: String(size), partsNumber: Math.ceil(size / (16 * MiB)) }),
    ]);
  });
});

describe("resuming the upload of a sparse file of 5 GiB + 3 B", () => {
  const size = 5 * GiB + 3;
  const file = sparseFile(size);
  const plan = planForUpload(size);
  /** A gateway that has every part stored already: the resume leaves only the complete to do. */
  const resumingClient = (contentLength: number, completes: unknown[]) =>
    ({
      resume: () =>
        Promise.resolve({
          uploadId: "u",
          requestKey: "rk",
          partSize: plan.partSize,
          partsNumber: plan.partsNumber,
          contentLength: String(contentLength),
          presignedUrl: [],
          expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
          uploadedParts: Array.from({ length: plan.partsNumber }, (_, i) => ({
            partNumber: i + 1,
            eTag: `"e${i + 1}"`,
            size: i + 1 < plan.partsNumber ? plan.partSize : plan.lastPartSize,
          })),
        }),
      complete: (_project: string, body: unknown) => {
        completes.push(body);
        return Promise.resolve(true);
      },
      // The content check's verdict, asked once completed (none: a gateway that does not check).
      downloadUrl: () => Promise.resolve({ downloadPath: "https://store.test/rk", expiresAt: "" }),
    }) as unknown as ApiClient;

  it("continues an upload planned for its exact size", async () => {
    const completes: unknown[] = [];
    const result = await uploadFile(file.path, {
      client: resumingClient(size, completes),
      projectId: "p",
      requestKey: "rk",
    });
    expect(result).toMatchObject({ size, partsNumber: plan.partsNumber, partsSent: 0 });
    expect(completes).toHaveLength(1);
  });

  it("refuses an upload planned for its size modulo 4 GiB (what fs.openAsBlob reported)", async () => {
    const completes: unknown[] = [];
    const task = uploadFile(file.path, {
      client: resumingClient(size % 2 ** 32, completes),
      projectId: "p",
      requestKey: "rk",
    });
    await expect(task).rejects.toThrow(/This file has 5368709123 bytes but upload rk is for 1073741827/);
    expect(completes).toHaveLength(0);
  });
});

describe("the guard against uploading another size than the file has", () => {
  it("fails a part whose source gives fewer bytes than its size says (as fs.openAsBlob's slices past 2 GiB do)", async () => {
    const liar = new Blob([new Uint8Array(10)]);
    Object.defineProperty(liar, "size", { value: 6 * MiB });
    await expect(nodeMd5Hasher(liar)).rejects.toBeInstanceOf(FileChangedError);
    await expect(collect(exactly(6 * MiB, [new Uint8Array(10)]))).rejects.toThrow(
      /gave 10 bytes for a part of 6291456/,
    );
    await expect(collect(exactly(4, [new Uint8Array(3), new Uint8Array(3)]))).rejects.toThrow(/more than 4 bytes/);
    expect(await collect(exactly(6, [new Uint8Array(3), new Uint8Array(3)]))).toHaveLength(6);
  });

  it("fails a read once the file has grown or shrunk, and checkUnchanged names what changed", async () => {
    const path = join(dir, "changing.bin");
    truncateSync(openAndClose(path), 12 * MiB);
    const source = await openFileSource(path);
    try {
      await source.checkUnchanged();
      appendFileSync(path, "more");
      await expect(source.checkUnchanged()).rejects.toThrow(
        /had 12582912 bytes when the upload started and has 12582916 now/,
      );
      await expect(collect(source.slice(0, 5).chunks())).rejects.toBeInstanceOf(FileChangedError);
      truncateSync(path, 12 * MiB);
      await expect(source.checkUnchanged()).rejects.toThrow(/modified during the upload/);
      truncateSync(path, MiB);
      await expect(nodeMd5Hasher(source.slice(6 * MiB, 12 * MiB))).rejects.toBeInstanceOf(FileChangedError);
    } finally {
      await source.close();
    }
  });
});

function openAndClose(path: string): string {
  closeSync(openSync(path, "w"));
  return path;
}
