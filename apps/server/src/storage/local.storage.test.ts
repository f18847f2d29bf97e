import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type * as FsPromises from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LocalStorage, type LocalStorageOptions } from "./local.storage";
import { StorageError } from "./storage.port";

// Lets a test hold back the reply of a rename that has already happened, as a busy thread pool can.
const renameHook = vi.hoisted(() => ({ delayMsAfter: (_to: string): number => 0 }));
vi.mock("node:fs/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof FsPromises>();
  const rename: typeof actual.rename = async (from, to) => {
    await actual.rename(from, to);
    const ms = renameHook.delayMsAfter(String(to));
    if (ms > 0) await sleep(ms);
  };
  return { ...actual, rename, default: { ...actual, rename } };
});
afterEach(() => {
  renameHook.delayMsAfter = () => 0;
});

const meta = { contentType: "video/mp4", contentDisposition: 'attachment; filename="a.mp4"', metadata: {} };
const md5Hex = (data: Uint8Array) => createHash("md5").update(data).digest("hex");
const quotedMd5 = (data: Uint8Array) => `"${md5Hex(data)}"`;

let dir: string;
beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), "local-store-")), "data");
});
afterEach(() => rmSync(join(dir, ".."), { recursive: true, force: true }));

function store(options: Partial<LocalStorageOptions> = {}) {
  return new LocalStorage({
    dir,
    publicUrl: "http://127.0.0.1:1",
    signingSecret: Buffer.from("s".repeat(32)),
    durable: false,
    minPartSize: 1,
    ...options,
  });
}

/** Stores `data` as a part (its URL granting exactly its size), sent as `body` when given. */
function write(
  s: LocalStorage,
  key: string,
  uploadId: string,
  partNumber: number,
  data: Buffer,
  options: { body?: Readable; contentMd5?: Buffer } = {},
) {
  return s.writePart(key, uploadId, partNumber, options.body ?? Readable.from([data]), {
    expectedSize: data.length,
    ...(options.contentMd5 ? { contentMd5: options.contentMd5 } : {}),
  });
}

/** A body that arrives in `chunks` pieces with a pause between them, like a part coming over a network. */
function trickle(data: Buffer, chunks = 4, pauseMs = 2): Readable {
  const size = Math.ceil(data.length / chunks);
  return Readable.from(
    (async function* () {
      for (let at = 0; at < data.length; at += size) {
        yield data.subarray(at, at + size);
        await sleep(pauseMs);
      }
    })(),
  );
}

/** The names in a directory of the store; none when it does not exist. */
const entries = (name: string) => (existsSync(join(dir, name)) ? readdirSync(join(dir, name)) : []);

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function download(s: LocalStorage, key: string, start?: number, end?: number): Promise<Buffer> {
  const object = await s.openObject(key);
  if (!object) throw new Error(`no object ${key}`);
  return readAll(object.read(start ?? 0, end ?? object.size - 1));
}

describe("LocalStorage: concurrent writers of one part", () => {
  it("after every writer got its reply, the part is exactly one writer's body, never none and never a mix", async () => {
    const s = store();
    for (let round = 0; round < 25; round++) {
      const uploadId = await s.createMultipartUpload("k/one", meta);
      const bodies = Array.from({ length: 4 }, () => randomBytes(64 * 1024 + round));
      const replies = await Promise.all(
        bodies.map((body) => write(s, "k/one", uploadId, 1, body, { body: trickle(body, 8, 1) })),
      );
      replies.forEach((reply, i) => expect(reply.eTag).toBe(quotedMd5(bodies[i]!)));
      const parts = await s.listParts("k/one", uploadId);
      expect(parts).toHaveLength(1);
      const winner = bodies.find((body) => quotedMd5(body) === parts[0]!.eTag);
      expect(winner).toBeDefined();
      await s.completeMultipartUpload("k/one", uploadId, [{ partNumber: 1, eTag: parts[0]!.eTag }]);
      expect((await download(s, "k/one")).equals(winner!)).toBe(true);
    }
  });

  it("what is listed and completed is the part that landed last, even when an earlier writer's rename answers later", async () => {
    const s = store();
    const uploadId = await s.createMultipartUpload("k/late", meta);
    const [first, second] = [randomBytes(4096), randomBytes(4096)];
    let renames = 0;
    // The first writer's rename lands, then its reply is held back while the second writer's lands and answers.
    renameHook.delayMsAfter = (to) => (to.endsWith("part-00001") && renames++ === 0 ? 50 : 0);
    const firstWrite = write(s, "k/late", uploadId, 1, first);
    await sleep(10);
    await Promise.all([firstWrite, write(s, "k/late", uploadId, 1, second)]);
    const [listed] = await s.listParts("k/late", uploadId);
    await s.completeMultipartUpload("k/late", uploadId, [listed!]);
    const stored = await download(s, "k/late");
    expect(listed!.eTag).toBe(quotedMd5(stored));
  });

  it("a complete sees a part that landed before it froze the upload, even when that rename answers after", async () => {
    const s = store();
    const uploadId = await s.createMultipartUpload("k/frozen-late", meta);
    const [first, second] = [randomBytes(4096), randomBytes(4096)];
    const { eTag } = await write(s, "k/frozen-late", uploadId, 1, first);
    // Told by the rename itself, not guessed with a sleep (20 ms were too few for a write on a loaded machine).
    let landed!: () => void;
    const hasLanded = new Promise<void>((resolve) => (landed = resolve));
    renameHook.delayMsAfter = (to) => {
      if (!to.endsWith("part-00001")) return 0;
      landed();
      return 50;
    };
    const resent = write(s, "k/frozen-late", uploadId, 1, second);
    await hasLanded; // the re-sent part has landed; its reply is held back
    const completed = s.completeMultipartUpload("k/frozen-late", uploadId, [{ partNumber: 1, eTag }]);
    await expect(completed).rejects.toMatchObject({ reason: "invalid-part" });
    await resent;
  });

  it("a part re-sent while the upload completes never changes the completed bytes", async () => {
    const s = store();
    for (let round = 0; round < 20; round++) {
      const key = `k/race-${round}`;
      const uploadId = await s.createMultipartUpload(key, meta);
      const first = randomBytes(32 * 1024);
      const second = randomBytes(32 * 1024);
      const { eTag } = await write(s, key, uploadId, 1, first);
      const [completed, resent] = await Promise.allSettled([
        s.completeMultipartUpload(key, uploadId, [{ partNumber: 1, eTag }]),
        write(s, key, uploadId, 1, second, { body: trickle(second, 2, round % 3) }),
      ]);
      if (completed.status === "fulfilled") {
        expect((await download(s, key)).equals(first)).toBe(true);
      } else {
        // The re-sent part replaced the first before the upload was frozen: the listed eTag no longer matches.
        expect(completed.reason).toMatchObject({ reason: "invalid-part" });
        expect(resent.status).toBe("fulfilled");
      }
      if (resent.status === "rejected") expect(resent.reason).toMatchObject({ reason: "upload-not-found" });
    }
  });
});

describe("LocalStorage: abort", () => {
  it("removes everything even while parts are being written; parts written after it never reappear", async () => {
    const s = store();
    for (let round = 0; round < 5; round++) {
      const uploadId = await s.createMultipartUpload("k/abort", meta);
      // Parts already stored make removing the upload take a while: writers finish while it is being removed.
      for (let n = 100; n < 300; n += 50) {
        await Promise.all(Array.from({ length: 50 }, (_, i) => write(s, "k/abort", uploadId, n + i, randomBytes(16))));
      }
      const writes = Array.from({ length: 24 }, (_, i) => {
        const data = randomBytes(8 * 1024);
        return write(s, "k/abort", uploadId, i + 1, data, { body: trickle(data, 2, i % 4) });
      });
      // Settled from the start: writers refused while the abort runs reject before the abort returns.
      const outcomes = Promise.allSettled(writes);
      await sleep(round % 3);
      await s.abortMultipartUpload("k/abort", uploadId);
      const results = await outcomes;
      for (const result of results) {
        if (result.status === "rejected") expect(result.reason).toMatchObject({ reason: "upload-not-found" });
      }
      await expect(write(s, "k/abort", uploadId, 1, Buffer.from("late"))).rejects.toMatchObject({
        reason: "upload-not-found",
      });
      await expect(s.listParts("k/abort", uploadId)).rejects.toMatchObject({ reason: "upload-not-found" });
      expect(existsSync(join(dir, "multipart", uploadId))).toBe(false);
      expect(entries("tmp")).toEqual([]);
      expect(entries("trash")).toEqual([]);
    }
  });
});

describe("LocalStorage: many parts", () => {
  it("stores, completes and serves 2,000 parts without a process warning (no listener leaks)", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const s = store();
      const uploadId = await s.createMultipartUpload("k/many", meta);
      const bodies = Array.from({ length: 2000 }, (_, i) => Buffer.from(`part ${i + 1};`));
      const stored = [];
      for (let i = 0; i < bodies.length; i += 50) {
        stored.push(
          ...(await Promise.all(
            bodies.slice(i, i + 50).map((body, j) => write(s, "k/many", uploadId, i + j + 1, body)),
          )),
        );
      }
      await s.completeMultipartUpload(
        "k/many",
        uploadId,
        stored.map(({ partNumber, eTag }) => ({ partNumber, eTag })),
      );
      const whole = Buffer.concat(bodies);
      expect((await download(s, "k/many")).equals(whole)).toBe(true);
      expect((await download(s, "k/many", 100, 20_000)).equals(whole.subarray(100, 20_001))).toBe(true);
      // Give warnings emitted on the way (they are delivered on the next tick) a chance to arrive.
      await sleep(10);
      expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
    // 2 s on a quiet machine; more than 30 s at a load average of 20 (CI beside other suites).
  }, 120_000);
});

describe("LocalStorage: downloads", () => {
  it("serves any byte range across part boundaries", async () => {
    const s = store();
    const uploadId = await s.createMultipartUpload("k/range", meta);
    const bodies = [randomBytes(1000), randomBytes(1), randomBytes(2500), randomBytes(777)];
    const parts = [];
    for (const [i, body] of bodies.entries()) parts.push(await write(s, "k/range", uploadId, i + 1, body));
    await s.completeMultipartUpload(
      "k/range",
      uploadId,
      parts.map(({ partNumber, eTag }) => ({ partNumber, eTag })),
    );
    const whole = Buffer.concat(bodies);
    const ranges = [
      [0, whole.length - 1],
      [999, 1000],
      [1000, 1000],
      [1001, 3501],
      [3500, 3501],
      [4277, 4277],
    ];
    for (let i = 0; i < 40; i++) {
      const start = Math.floor(Math.random() * whole.length);
      ranges.push([start, start + Math.floor(Math.random() * (whole.length - start))]);
    }
    for (const [start, end] of ranges) {
      expect((await download(s, "k/range", start, end)).equals(whole.subarray(start, end! + 1))).toBe(true);
    }
  });

  it("completing with fewer parts than stored keeps only the listed ones; a second complete finds no upload", async () => {
    const s = store();
    const uploadId = await s.createMultipartUpload("k/subset", meta);
    const a = await write(s, "k/subset", uploadId, 1, Buffer.from("aa"));
    await write(s, "k/subset", uploadId, 2, Buffer.from("bb"));
    await s.completeMultipartUpload("k/subset", uploadId, [{ partNumber: 1, eTag: a.eTag }]);
    expect((await download(s, "k/subset")).toString()).toBe("aa");
    await expect(
      s.completeMultipartUpload("k/subset", uploadId, [{ partNumber: 1, eTag: a.eTag }]),
    ).rejects.toMatchObject({
      reason: "upload-not-found",
    });
  });

  it("a new upload of the same key replaces the object, as on S3", async () => {
    const s = store();
    for (const text of ["first", "second"]) {
      const uploadId = await s.createMultipartUpload("k/same", meta);
      const part = await write(s, "k/same", uploadId, 1, Buffer.from(text));
      await s.completeMultipartUpload("k/same", uploadId, [part]);
      expect((await download(s, "k/same")).toString()).toBe(text);
    }
    expect(entries("trash")).toEqual([]);
  });
});

describe("LocalStorage: integrity", () => {
  it("verifies a Content-MD5: a wrong digest is refused and stores nothing; the right one is accepted", async () => {
    const s = store();
    const uploadId = await s.createMultipartUpload("k/md5", meta);
    const body = randomBytes(10_000);
    const wrong = createHash("md5").update("something else").digest();
    await expect(write(s, "k/md5", uploadId, 1, body, { contentMd5: wrong })).rejects.toMatchObject({
      reason: "bad-digest",
    });
    expect(await s.listParts("k/md5", uploadId)).toEqual([]);
    expect(entries("tmp")).toEqual([]);
    const right = createHash("md5").update(body).digest();
    const part = await write(s, "k/md5", uploadId, 1, body, { contentMd5: right });
    expect(part.eTag).toBe(quotedMd5(body));
  });

  it("with opaque ETags, answers 32 hex digits that are not the MD5, and completes with them only", async () => {
    const s = store({ eTags: "opaque" });
    const uploadId = await s.createMultipartUpload("k/opaque", meta);
    const body = randomBytes(5000);
    const part = await write(s, "k/opaque", uploadId, 1, body);
    expect(part.eTag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(part.eTag).not.toBe(quotedMd5(body));
    expect(await s.listParts("k/opaque", uploadId)).toEqual([part]);
    await expect(
      s.completeMultipartUpload("k/opaque", uploadId, [{ partNumber: 1, eTag: quotedMd5(body) }]),
    ).rejects.toMatchObject({ reason: "invalid-part" });
    await s.completeMultipartUpload("k/opaque", uploadId, [part]);
    expect((await download(s, "k/opaque")).equals(body)).toBe(true);
  });

  it("refuses a part whose body is cut off, keeping nothing of it", async () => {
    const s = store();
    const uploadId = await s.createMultipartUpload("k/cut", meta);
    const body = new Readable({ read() {} });
    const writing = s.writePart("k/cut", uploadId, 1, body, { expectedSize: 5000 });
    body.push(randomBytes(1000));
    await sleep(5);
    body.destroy(new Error("connection reset"));
    await expect(writing).rejects.toThrow();
    expect(await s.listParts("k/cut", uploadId)).toEqual([]);
    expect(entries("tmp")).toEqual([]);
  });
});

describe("LocalStorage: on disk", () => {
  it("keeps its data dir owner-only (0700) and its files 0600", async () => {
    const s = store({ durable: true });
    const uploadId = await s.createMultipartUpload("k/modes", meta);
    const part = await write(s, "k/modes", uploadId, 1, Buffer.from("x"));
    await s.writeJson("records/r.json", { a: 1 });
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, "multipart", uploadId, "part-00001")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "multipart", uploadId, "upload.json")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "objects", "records", "r.json")).mode & 0o777).toBe(0o600);
    await s.completeMultipartUpload("k/modes", uploadId, [part]);
  });

  it("warns when the data dir can be read by other users", () => {
    mkdirSync(dir, { mode: 0o755 });
    const warnings: string[] = [];
    store({ warn: (message) => warnings.push(message) });
    expect(warnings).toEqual([expect.stringContaining("chmod 700")]);
    expect(warnings[0]).toContain("mode 0755");
  });

  it("after a crash, an upload frozen by an unfinished complete is given back and tmp/ and trash/ are emptied", async () => {
    const s = store();
    const uploadId = await s.createMultipartUpload("k/crash", meta);
    const part = await write(s, "k/crash", uploadId, 1, Buffer.from("kept"));
    // What a process killed in the middle of completing leaves: the frozen upload with its manifest, and temp files.
    mkdirSync(join(dir, "closing"), { recursive: true });
    renameSync(join(dir, "multipart", uploadId), join(dir, "closing", uploadId));
    writeFileSync(join(dir, "closing", uploadId, "manifest.json"), "{}");
    writeFileSync(join(dir, "tmp", "half-written-part"), "half");

    const restarted = store();
    expect(await restarted.listParts("k/crash", uploadId)).toEqual([part]);
    expect(entries("tmp")).toEqual([]);
    await restarted.completeMultipartUpload("k/crash", uploadId, [part]);
    expect((await download(restarted, "k/crash")).toString()).toBe("kept");
  });

  it("after a restart, lists and completes with parts stored before it (read from disk) and parts stored since", async () => {
    const before = store();
    const uploadId = await before.createMultipartUpload("k/restart", meta);
    const [one, two, twoAgain, three] = [randomBytes(3000), randomBytes(2000), randomBytes(2000), randomBytes(1000)];
    await write(before, "k/restart", uploadId, 1, one);
    await write(before, "k/restart", uploadId, 2, two);

    const after = store();
    await write(after, "k/restart", uploadId, 2, twoAgain);
    await write(after, "k/restart", uploadId, 3, three);
    const parts = await after.listParts("k/restart", uploadId);
    expect(parts).toEqual([
      { partNumber: 1, eTag: quotedMd5(one), size: 3000 },
      { partNumber: 2, eTag: quotedMd5(twoAgain), size: 2000 },
      { partNumber: 3, eTag: quotedMd5(three), size: 1000 },
    ]);
    await expect(
      after.completeMultipartUpload("k/restart", uploadId, [
        parts[0]!,
        { partNumber: 2, eTag: quotedMd5(two) },
        parts[2]!,
      ]),
    ).rejects.toMatchObject({ reason: "invalid-part" });
    await after.completeMultipartUpload("k/restart", uploadId, parts);
    expect((await download(after, "k/restart")).equals(Buffer.concat([one, twoAgain, three]))).toBe(true);
  });

  it("refuses a frozen upload's parts only while it is frozen: a complete that fails gives the upload back", async () => {
    const s = store();
    const uploadId = await s.createMultipartUpload("k/back", meta);
    const part = await write(s, "k/back", uploadId, 1, Buffer.from("one"));
    await expect(
      s.completeMultipartUpload("k/back", uploadId, [{ partNumber: 1, eTag: '"0123456789abcdef0123456789abcdef"' }]),
    ).rejects.toBeInstanceOf(StorageError);
    expect(await s.listParts("k/back", uploadId)).toEqual([part]);
  });
});
