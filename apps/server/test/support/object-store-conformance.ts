import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ObjectStore } from "../../src/storage/object-store.port";
import { moveCases } from "./object-move-conformance";
import { chunked, expectRefused, md5, meta, MiB, put } from "./object-store-requests";
import { singlePutCases } from "./single-put-conformance";
import type { StoreHarness } from "./store-harness";

/**
 * The behaviour every `ObjectStore` adapter must share, so that what works on the embedded store works on S3 (the
 * documents beside the objects: document-store-conformance.ts). test/storage.conformance.test.ts runs it on each
 * adapter; the test names are the same for all of them.
 */
export type ObjectStoreHarness = StoreHarness<ObjectStore>;

/** What the cases of an object store's suite reach: the harness made for the suite, and a fresh object key. */
export interface ObjectStoreCases {
  harness: () => ObjectStoreHarness;
  key: () => string;
}

export function objectStoreConformance(name: string, makeHarness: () => Promise<ObjectStoreHarness>): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    let harness: ObjectStoreHarness;
    let n = 0;
    const cases: ObjectStoreCases = { harness: () => harness, key: () => `${harness.prefix}/files/object-${++n}` };

    beforeAll(async () => {
      harness = await makeHarness();
    });
    afterAll(async () => {
      await harness?.close();
    });

    multipartCases(cases);
    singlePutCases(cases);
    moveCases(cases);

    it("is ready", async () => {
      await expect(harness.storage.checkReady()).resolves.toBeUndefined();
    });
  });
}

/** Multipart uploads: parts PUT to signed URLs, listed, completed, aborted. */
function multipartCases({ harness, key }: ObjectStoreCases): void {
  it("accepts a part PUT to its signed URL and answers the part's MD5 as ETag", async () => {
    const k = key();
    const uploadId = await harness().storage.createMultipartUpload(k, meta);
    const data = randomBytes(1024);
    const response = await put(harness().storage, k, uploadId, 1, data);
    expect(response.status).toBe(200);
    expect(response.headers.get("etag")).toBe(md5(data));
    await harness().storage.abortMultipartUpload(k, uploadId);
  });

  it("refuses a URL changed to another part, or with a tampered signature, with 403", async () => {
    const k = key();
    const uploadId = await harness().storage.createMultipartUpload(k, meta);
    const [url] = await harness().storage.presignUploadParts(k, uploadId, [{ partNumber: 1, size: 1 }], 600);
    const otherPart = new URL(url!);
    otherPart.searchParams.set("partNumber", "2");
    const otherPath = new URL(url!.replace("/parts/1?", "/parts/2?"));
    const changed = url!.includes("/parts/1?") ? otherPath : otherPart;
    expect((await fetch(changed, { method: "PUT", body: "x" })).status).toBe(403);
    const tampered = new URL(url!);
    for (const name of ["X-Amz-Signature", "signature"]) {
      const value = tampered.searchParams.get(name);
      if (value) tampered.searchParams.set(name, (value[0] === "A" ? "B" : "A") + value.slice(1));
    }
    expect((await fetch(tampered, { method: "PUT", body: "x" })).status).toBe(403);
    expect(await harness().storage.listParts(k, uploadId)).toEqual([]);
    await harness().storage.abortMultipartUpload(k, uploadId);
  });

  it("refuses a part PUT of fewer or more bytes than its URL was signed for, and stores nothing", async () => {
    const k = key();
    const uploadId = await harness().storage.createMultipartUpload(k, meta);
    const planned = 64 * 1024 + 1;
    const [url] = await harness().storage.presignUploadParts(k, uploadId, [{ partNumber: 1, size: planned }], 600);
    for (const size of [0, 1, planned - 1, planned + 1, 1024 * 1024]) {
      await expectRefused(fetch(url!, { method: "PUT", body: randomBytes(size) }));
    }
    expect(await harness().storage.listParts(k, uploadId)).toEqual([]);
    // The exact size is accepted at the same URL.
    const exact = randomBytes(planned);
    const response = await fetch(url!, { method: "PUT", body: exact });
    expect(response.status).toBe(200);
    expect(await harness().storage.listParts(k, uploadId)).toEqual([
      { partNumber: 1, eTag: md5(exact), size: planned },
    ]);
    await harness().storage.abortMultipartUpload(k, uploadId);
  });

  it("refuses a chunked part PUT (no Content-Length) that is shorter or longer than signed, and stores nothing", async () => {
    const k = key();
    const uploadId = await harness().storage.createMultipartUpload(k, meta);
    const planned = 200 * 1024;
    const [url] = await harness().storage.presignUploadParts(k, uploadId, [{ partNumber: 1, size: planned }], 600);
    for (const size of [planned - 1, planned + 1, 3 * planned]) {
      await expectRefused(fetch(url!, { method: "PUT", ...chunked(randomBytes(size)) }));
    }
    expect(await harness().storage.listParts(k, uploadId)).toEqual([]);
    await harness().storage.abortMultipartUpload(k, uploadId);
  });

  it("verifies a Content-MD5 sent with a part: a wrong digest is refused with 400 and stores nothing", async () => {
    const k = key();
    const uploadId = await harness().storage.createMultipartUpload(k, meta);
    const data = randomBytes(4096);
    const [url] = await harness().storage.presignUploadParts(k, uploadId, [{ partNumber: 1, size: data.length }], 600);
    const digest = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("base64");
    const wrong = await fetch(url!, {
      method: "PUT",
      body: data,
      headers: { "content-md5": digest(randomBytes(8)) },
    });
    expect(wrong.status).toBe(400);
    expect(await harness().storage.listParts(k, uploadId)).toEqual([]);
    const right = await fetch(url!, { method: "PUT", body: data, headers: { "content-md5": digest(data) } });
    expect(right.status).toBe(200);
    expect(right.headers.get("etag")).toBe(md5(data));
    await harness().storage.abortMultipartUpload(k, uploadId);
  });

  it("refuses an expired URL with 403", async () => {
    const k = key();
    const uploadId = await harness().storage.createMultipartUpload(k, meta);
    const [url] = await harness().storage.presignUploadParts(k, uploadId, [{ partNumber: 1, size: 4 }], 1);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect((await fetch(url!, { method: "PUT", body: "late" })).status).toBe(403);
    expect(await harness().storage.listParts(k, uploadId)).toEqual([]);
    await harness().storage.abortMultipartUpload(k, uploadId);
  });

  it("lists stored parts ascending with ETags and sizes; a part sent again replaces the first", async () => {
    const k = key();
    const uploadId = await harness().storage.createMultipartUpload(k, meta);
    const a = randomBytes(2048);
    const b = randomBytes(100);
    const b2 = randomBytes(300);
    await put(harness().storage, k, uploadId, 3, a);
    await put(harness().storage, k, uploadId, 1, b);
    await put(harness().storage, k, uploadId, 1, b2);
    expect(await harness().storage.listParts(k, uploadId)).toEqual([
      { partNumber: 1, eTag: md5(b2), size: 300 },
      { partNumber: 3, eTag: md5(a), size: 2048 },
    ]);
    await harness().storage.abortMultipartUpload(k, uploadId);
  });

  it("completes by assembling the parts in order; the download URL serves identical bytes and ranges", async () => {
    const k = key();
    const uploadId = await harness().storage.createMultipartUpload(k, meta);
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1024)];
    const eTags = [];
    for (const [i, data] of [...parts.entries()].reverse()) {
      const response = await put(harness().storage, k, uploadId, i + 1, data);
      eTags[i] = response.headers.get("etag")!;
    }
    await harness().storage.completeMultipartUpload(
      k,
      uploadId,
      eTags.map((eTag, i) => ({ partNumber: i + 1, eTag })),
    );
    const url = await harness().storage.presignDownload(k, 600);
    const whole = await fetch(url);
    expect(whole.status).toBe(200);
    expect(whole.headers.get("content-type")).toBe("video/mp4");
    expect(whole.headers.get("content-disposition")).toBe('attachment; filename="clip.mp4"');
    const expected = Buffer.concat(parts);
    const body = Buffer.from(await whole.arrayBuffer());
    expect(createHash("sha256").update(body).digest("hex")).toBe(createHash("sha256").update(expected).digest("hex"));

    const range = await fetch(url, { headers: { range: `bytes=${5 * MiB - 10}-${5 * MiB + 9}` } });
    expect(range.status).toBe(206);
    expect(range.headers.get("content-range")).toBe(`bytes ${5 * MiB - 10}-${5 * MiB + 9}/${expected.length}`);
    expect(Buffer.from(await range.arrayBuffer())).toEqual(expected.subarray(5 * MiB - 10, 5 * MiB + 10));
    await expect(harness().storage.listParts(k, uploadId)).rejects.toMatchObject({ reason: "upload-not-found" });
    expect(await harness().storage.objectSize(k)).toBe(expected.length);
  });

  it("streams an object in order, nothing of an empty one; a missing one is undefined; a stop ends it", async () => {
    const store = harness().storage;
    const stored = async (data: Buffer) => {
      const k = key();
      const object = { size: data.length, contentType: "video/mp4", metadata: {} };
      const { url, headers } = await store.presignPutObject(k, object, 600);
      expect((await fetch(url, { method: "PUT", body: data, headers })).status).toBe(200);
      return k;
    };
    const data = randomBytes(3 * MiB + 17);
    const k = await stored(data);
    const stream = await store.streamObject(k);
    expect(stream?.size).toBe(data.length);
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream!.chunks) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(1); // streamed, not read in one piece
    expect(Buffer.concat(chunks).equals(data)).toBe(true);

    // A reader that stops early (a break) ends the read; the store serves the next one as before.
    const early = await store.streamObject(k);
    for await (const chunk of early!.chunks) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    const empty = await store.streamObject(await stored(Buffer.alloc(0)));
    expect(empty?.size).toBe(0);
    for await (const chunk of empty!.chunks) expect(chunk.length).toBe(0);
    expect(await store.streamObject(`${harness().prefix}/files/no-such-object`)).toBeUndefined();
    expect((await store.readObjectRange(k, 0, 16))?.length).toBe(16);
  });

  it("refuses to complete with a wrong eTag, and keeps the parts", async () => {
    const k = key();
    const uploadId = await harness().storage.createMultipartUpload(k, meta);
    const data = randomBytes(1000);
    await put(harness().storage, k, uploadId, 1, data);
    await expect(
      harness().storage.completeMultipartUpload(k, uploadId, [
        { partNumber: 1, eTag: '"0123456789abcdef0123456789abcdef"' },
      ]),
    ).rejects.toMatchObject({ reason: "invalid-part" });
    expect(await harness().storage.listParts(k, uploadId)).toEqual([{ partNumber: 1, eTag: md5(data), size: 1000 }]);
    await harness().storage.abortMultipartUpload(k, uploadId);
  });

  it("refuses to complete when a part but the last is under 5 MiB", async () => {
    const k = key();
    const uploadId = await harness().storage.createMultipartUpload(k, meta);
    const small = randomBytes(1024);
    const last = randomBytes(1024);
    const e1 = (await put(harness().storage, k, uploadId, 1, small)).headers.get("etag")!;
    const e2 = (await put(harness().storage, k, uploadId, 2, last)).headers.get("etag")!;
    await expect(
      harness().storage.completeMultipartUpload(k, uploadId, [
        { partNumber: 1, eTag: e1 },
        { partNumber: 2, eTag: e2 },
      ]),
    ).rejects.toMatchObject({ reason: "part-too-small" });
    await harness().storage.abortMultipartUpload(k, uploadId);
  });

  it("after abort, the upload is not found by list, complete, abort or a part PUT", async () => {
    const k = key();
    const uploadId = await harness().storage.createMultipartUpload(k, meta);
    const data = randomBytes(10);
    const eTag = (await put(harness().storage, k, uploadId, 1, data)).headers.get("etag")!;
    await harness().storage.abortMultipartUpload(k, uploadId);
    await expect(harness().storage.listParts(k, uploadId)).rejects.toMatchObject({ reason: "upload-not-found" });
    await expect(
      harness().storage.completeMultipartUpload(k, uploadId, [{ partNumber: 1, eTag }]),
    ).rejects.toMatchObject({
      reason: "upload-not-found",
    });
    await expect(harness().storage.abortMultipartUpload(k, uploadId)).rejects.toMatchObject({
      reason: "upload-not-found",
    });
    expect((await put(harness().storage, k, uploadId, 2, data)).status).toBe(404);
  });

  it("a listing racing a complete or an abort answers every stored part or upload-not-found, never a part of the list", async () => {
    // Many parts make the listing slow enough to straddle the other request's rename; listings are sent until the
    // upload is gone, so some of them overlap it.
    const rounds = Array.from({ length: 6 }, (_, i): "abort" | "complete" => (i % 2 === 0 ? "abort" : "complete"));
    for (const ending of rounds) {
      const k = key();
      const uploadId = await harness().storage.createMultipartUpload(k, meta);
      const count = ending === "abort" ? 16 : 1;
      const stored = [];
      for (let partNumber = 1; partNumber <= count; partNumber++) {
        const data = randomBytes(64);
        const response = await put(harness().storage, k, uploadId, partNumber, data);
        stored.push({ partNumber, eTag: response.headers.get("etag")!, size: 64 });
      }
      let ended = false;
      const listings = (async () => {
        const seen: string[] = [];
        while (!ended || seen.at(-1) !== "upload-not-found") {
          try {
            expect(await harness().storage.listParts(k, uploadId)).toEqual(stored);
            seen.push("all");
          } catch (error) {
            expect(error, String(error)).toMatchObject({ reason: "upload-not-found" });
            seen.push("upload-not-found");
            if (ended) break;
          }
        }
        return seen;
      })();
      listings.catch(() => {}); // awaited below: not an unhandled rejection if it fails before the upload ends
      await new Promise((resolve) => setTimeout(resolve, 2));
      if (ending === "abort") await harness().storage.abortMultipartUpload(k, uploadId);
      else
        await harness().storage.completeMultipartUpload(
          k,
          uploadId,
          stored.map(({ partNumber, eTag }) => ({ partNumber, eTag })),
        );
      ended = true;
      expect((await listings).at(-1)).toBe("upload-not-found");
    }
  });
}
