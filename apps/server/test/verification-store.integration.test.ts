import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalStorage } from "../src/storage/local.storage";
import type { Storage } from "../src/storage/storage.port";
import { countingByteSource } from "../src/verification/byte-source";
import { inspectContent } from "../src/verification/content-inspector";
import { storageByteSource } from "../src/verification/storage.byte-source";
import { testS3Storage } from "./support/gateway";
import { makeMediaFixtures } from "./support/media-fixtures";

// inspectContent on objects in both stores, through storageByteSource: ranged reads of the real store, counted.

let fixtures: string;
let localDir: string;
beforeAll(() => {
  fixtures = mkdtempSync(join(tmpdir(), "verification-store-"));
  localDir = mkdtempSync(join(tmpdir(), "verification-local-"));
  makeMediaFixtures(fixtures);
}, 120_000);
afterAll(() => {
  rmSync(fixtures, { recursive: true, force: true });
  rmSync(localDir, { recursive: true, force: true });
});

/** Stores `bytes` at `key` by the store's own single-PUT URL, as a client would. */
async function store(storage: Storage, key: string, bytes: Buffer): Promise<void> {
  const { url, headers } = await storage.presignPutObject(
    key,
    { size: bytes.length, contentType: "video/mp4", metadata: {} },
    600,
  );
  const response = await fetch(url, { method: "PUT", body: bytes, headers });
  expect(response.status).toBe(200);
}

describe("inspecting objects stored in S3 (RGW)", () => {
  const storage = testS3Storage();
  const prefix = `verification/${randomBytes(6).toString("hex")}`;
  afterAll(() => storage.destroy());

  it("an MP4 with its index at the end: its facts, in a few ranged reads of the store", async () => {
    const key = `${prefix}/index-at-end.mp4`;
    const mp4 = readFileSync(join(fixtures, "mp4-index-at-end.mp4"));
    await store(storage, key, mp4);
    const source = await storageByteSource(storage, key);
    const counted = countingByteSource(source!);
    const result = await inspectContent(counted.source);
    expect(result.media).toMatchObject({ container: "mp4", videoCodec: "h264", audioCodec: "aac", width: 160 });
    expect(counted.stats.requests).toBeLessThanOrEqual(3);
    expect(counted.stats.bytes).toBe(result.read.bytes);
    await storage.deleteObject(key);
  });

  it("an HTML page stored as video/mp4 is found to be HTML", async () => {
    const key = `${prefix}/page.mp4`;
    await store(storage, key, readFileSync(join(fixtures, "page.html")));
    const result = await inspectContent((await storageByteSource(storage, key))!);
    expect(result.detectedMimeType).toBe("text/html");
    await storage.deleteObject(key);
  });

  it("a missing object has no source; one deleted while it is read fails the inspection (a retry, not a verdict)", async () => {
    expect(await storageByteSource(storage, `${prefix}/missing`)).toBeUndefined();
    const key = `${prefix}/going.mp4`;
    await store(storage, key, readFileSync(join(fixtures, "mp4-index-at-start.mp4")));
    const source = (await storageByteSource(storage, key))!;
    await storage.deleteObject(key);
    await expect(inspectContent(source)).rejects.toThrow(/went while it was read/);
  });
});

describe("storageByteSource on the embedded store", () => {
  it("reads a stored object's bytes by range; a missing key has no source", async () => {
    const storage = new LocalStorage({
      dir: localDir,
      publicUrl: "http://127.0.0.1:1",
      signingSecret: randomBytes(32),
    });
    const expected = randomBytes(1000);
    // What the route of a single-PUT URL does with the request's body.
    await storage.writeObject("files/one", Readable.from([expected]), {
      expectedSize: expected.length,
      contentType: "application/octet-stream",
    });
    const source = (await storageByteSource(storage, "files/one"))!;
    expect(source.size).toBe(expected.length);
    expect(Buffer.from(await source.read(5, 10))).toEqual(expected.subarray(5, 15));
    expect(Buffer.from(await source.read(expected.length - 3, 100))).toEqual(expected.subarray(-3));
    expect(await storageByteSource(storage, "files/none")).toBeUndefined();
  });
});
