import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ObjectStore } from "../../src/storage/object-store.port";

/**
 * The behaviour every `ObjectStore` adapter must share, so that what works on the embedded store works on S3 (the
 * documents beside the objects: document-store-conformance.ts). test/storage.conformance.test.ts runs it on each
 * adapter; the test names are the same for all of them.
 */
export interface ObjectStoreHarness {
  storage: ObjectStore;
  /** A prefix no other test run uses. */
  prefix: string;
  close(): Promise<void>;
}

const MiB = 1024 * 1024;
const md5 = (data: Uint8Array) => `"${createHash("md5").update(data).digest("hex")}"`;
const meta = {
  contentType: "video/mp4",
  contentDisposition: 'attachment; filename="clip.mp4"',
  metadata: { "file-name": "clip.mp4" },
};

export function objectStoreConformance(name: string, makeHarness: () => Promise<ObjectStoreHarness>): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    let h: ObjectStoreHarness;
    let n = 0;
    const key = () => `${h.prefix}/files/object-${++n}`;

    beforeAll(async () => {
      h = await makeHarness();
    });
    afterAll(async () => {
      await h?.close();
    });

    async function put(
      storage: ObjectStore,
      objectKey: string,
      uploadId: string,
      partNumber: number,
      data: Uint8Array,
    ) {
      const [url] = await storage.presignUploadParts(objectKey, uploadId, [{ partNumber, size: data.length }], 600);
      return fetch(url!, { method: "PUT", body: data });
    }

    /** A body of `data` sent without a Content-Length (chunked), so the store can only count it as it arrives. */
    function chunked(data: Uint8Array): { body: ReadableStream<Uint8Array>; duplex: "half" } {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < data.length; i += 64 * 1024) controller.enqueue(data.subarray(i, i + 64 * 1024));
          controller.close();
        },
      });
      return { body, duplex: "half" };
    }

    /** A refused PUT: some 4xx (S3 answers 403 to a length other than the signed one; the embedded store 400 or 413). */
    async function expectRefused(attempt: Promise<Response>): Promise<void> {
      let status: number;
      try {
        const response = await attempt;
        status = response.status;
        await response.arrayBuffer().catch(() => undefined);
      } catch {
        // The store may close the connection before the client has sent its whole body: refused too.
        return;
      }
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(500);
    }

    it("accepts a part PUT to its signed URL and answers the part's MD5 as ETag", async () => {
      const k = key();
      const uploadId = await h.storage.createMultipartUpload(k, meta);
      const data = randomBytes(1024);
      const response = await put(h.storage, k, uploadId, 1, data);
      expect(response.status).toBe(200);
      expect(response.headers.get("etag")).toBe(md5(data));
      await h.storage.abortMultipartUpload(k, uploadId);
    });

    it("refuses a URL changed to another part, or with a tampered signature, with 403", async () => {
      const k = key();
      const uploadId = await h.storage.createMultipartUpload(k, meta);
      const [url] = await h.storage.presignUploadParts(k, uploadId, [{ partNumber: 1, size: 1 }], 600);
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
      expect(await h.storage.listParts(k, uploadId)).toEqual([]);
      await h.storage.abortMultipartUpload(k, uploadId);
    });

    it("refuses a part PUT of fewer or more bytes than its URL was signed for, and stores nothing", async () => {
      const k = key();
      const uploadId = await h.storage.createMultipartUpload(k, meta);
      const planned = 64 * 1024 + 1;
      const [url] = await h.storage.presignUploadParts(k, uploadId, [{ partNumber: 1, size: planned }], 600);
      for (const size of [0, 1, planned - 1, planned + 1, 1024 * 1024]) {
        await expectRefused(fetch(url!, { method: "PUT", body: randomBytes(size) }));
      }
      expect(await h.storage.listParts(k, uploadId)).toEqual([]);
      // The exact size is accepted at the same URL.
      const exact = randomBytes(planned);
      const response = await fetch(url!, { method: "PUT", body: exact });
      expect(response.status).toBe(200);
      expect(await h.storage.listParts(k, uploadId)).toEqual([{ partNumber: 1, eTag: md5(exact), size: planned }]);
      await h.storage.abortMultipartUpload(k, uploadId);
    });

    it("refuses a chunked part PUT (no Content-Length) that is shorter or longer than signed, and stores nothing", async () => {
      const k = key();
      const uploadId = await h.storage.createMultipartUpload(k, meta);
      const planned = 200 * 1024;
      const [url] = await h.storage.presignUploadParts(k, uploadId, [{ partNumber: 1, size: planned }], 600);
      for (const size of [planned - 1, planned + 1, 3 * planned]) {
        await expectRefused(fetch(url!, { method: "PUT", ...chunked(randomBytes(size)) }));
      }
      expect(await h.storage.listParts(k, uploadId)).toEqual([]);
      await h.storage.abortMultipartUpload(k, uploadId);
    });

    it("verifies a Content-MD5 sent with a part: a wrong digest is refused with 400 and stores nothing", async () => {
      const k = key();
      const uploadId = await h.storage.createMultipartUpload(k, meta);
      const data = randomBytes(4096);
      const [url] = await h.storage.presignUploadParts(k, uploadId, [{ partNumber: 1, size: data.length }], 600);
      const digest = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("base64");
      const wrong = await fetch(url!, {
        method: "PUT",
        body: data,
        headers: { "content-md5": digest(randomBytes(8)) },
      });
      expect(wrong.status).toBe(400);
      expect(await h.storage.listParts(k, uploadId)).toEqual([]);
      const right = await fetch(url!, { method: "PUT", body: data, headers: { "content-md5": digest(data) } });
      expect(right.status).toBe(200);
      expect(right.headers.get("etag")).toBe(md5(data));
      await h.storage.abortMultipartUpload(k, uploadId);
    });

    it("refuses an expired URL with 403", async () => {
      const k = key();
      const uploadId = await h.storage.createMultipartUpload(k, meta);
      const [url] = await h.storage.presignUploadParts(k, uploadId, [{ partNumber: 1, size: 4 }], 1);
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      expect((await fetch(url!, { method: "PUT", body: "late" })).status).toBe(403);
      expect(await h.storage.listParts(k, uploadId)).toEqual([]);
      await h.storage.abortMultipartUpload(k, uploadId);
    });

    it("lists stored parts ascending with ETags and sizes; a part sent again replaces the first", async () => {
      const k = key();
      const uploadId = await h.storage.createMultipartUpload(k, meta);
      const a = randomBytes(2048);
      const b = randomBytes(100);
      const b2 = randomBytes(300);
      await put(h.storage, k, uploadId, 3, a);
      await put(h.storage, k, uploadId, 1, b);
      await put(h.storage, k, uploadId, 1, b2);
      expect(await h.storage.listParts(k, uploadId)).toEqual([
        { partNumber: 1, eTag: md5(b2), size: 300 },
        { partNumber: 3, eTag: md5(a), size: 2048 },
      ]);
      await h.storage.abortMultipartUpload(k, uploadId);
    });

    it("completes by assembling the parts in order; the download URL serves identical bytes and ranges", async () => {
      const k = key();
      const uploadId = await h.storage.createMultipartUpload(k, meta);
      const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1024)];
      const eTags = [];
      for (const [i, data] of [...parts.entries()].reverse()) {
        const response = await put(h.storage, k, uploadId, i + 1, data);
        eTags[i] = response.headers.get("etag")!;
      }
      await h.storage.completeMultipartUpload(
        k,
        uploadId,
        eTags.map((eTag, i) => ({ partNumber: i + 1, eTag })),
      );
      const url = await h.storage.presignDownload(k, 600);
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
      await expect(h.storage.listParts(k, uploadId)).rejects.toMatchObject({ reason: "upload-not-found" });
      expect(await h.storage.objectSize(k)).toBe(expected.length);
    });

    it("refuses to complete with a wrong eTag, and keeps the parts", async () => {
      const k = key();
      const uploadId = await h.storage.createMultipartUpload(k, meta);
      const data = randomBytes(1000);
      await put(h.storage, k, uploadId, 1, data);
      await expect(
        h.storage.completeMultipartUpload(k, uploadId, [{ partNumber: 1, eTag: '"0123456789abcdef0123456789abcdef"' }]),
      ).rejects.toMatchObject({ reason: "invalid-part" });
      expect(await h.storage.listParts(k, uploadId)).toEqual([{ partNumber: 1, eTag: md5(data), size: 1000 }]);
      await h.storage.abortMultipartUpload(k, uploadId);
    });

    it("refuses to complete when a part but the last is under 5 MiB", async () => {
      const k = key();
      const uploadId = await h.storage.createMultipartUpload(k, meta);
      const small = randomBytes(1024);
      const last = randomBytes(1024);
      const e1 = (await put(h.storage, k, uploadId, 1, small)).headers.get("etag")!;
      const e2 = (await put(h.storage, k, uploadId, 2, last)).headers.get("etag")!;
      await expect(
        h.storage.completeMultipartUpload(k, uploadId, [
          { partNumber: 1, eTag: e1 },
          { partNumber: 2, eTag: e2 },
        ]),
      ).rejects.toMatchObject({ reason: "part-too-small" });
      await h.storage.abortMultipartUpload(k, uploadId);
    });

    it("after abort, the upload is not found by list, complete, abort or a part PUT", async () => {
      const k = key();
      const uploadId = await h.storage.createMultipartUpload(k, meta);
      const data = randomBytes(10);
      const eTag = (await put(h.storage, k, uploadId, 1, data)).headers.get("etag")!;
      await h.storage.abortMultipartUpload(k, uploadId);
      await expect(h.storage.listParts(k, uploadId)).rejects.toMatchObject({ reason: "upload-not-found" });
      await expect(h.storage.completeMultipartUpload(k, uploadId, [{ partNumber: 1, eTag }])).rejects.toMatchObject({
        reason: "upload-not-found",
      });
      await expect(h.storage.abortMultipartUpload(k, uploadId)).rejects.toMatchObject({ reason: "upload-not-found" });
      expect((await put(h.storage, k, uploadId, 2, data)).status).toBe(404);
    });

    it("a listing racing a complete or an abort answers every stored part or upload-not-found, never a part of the list", async () => {
      // Many parts make the listing slow enough to straddle the other request's rename; listings are sent until the
      // upload is gone, so some of them overlap it.
      const rounds = Array.from({ length: 6 }, (_, i): "abort" | "complete" => (i % 2 === 0 ? "abort" : "complete"));
      for (const ending of rounds) {
        const k = key();
        const uploadId = await h.storage.createMultipartUpload(k, meta);
        const count = ending === "abort" ? 16 : 1;
        const stored = [];
        for (let partNumber = 1; partNumber <= count; partNumber++) {
          const data = randomBytes(64);
          const response = await put(h.storage, k, uploadId, partNumber, data);
          stored.push({ partNumber, eTag: response.headers.get("etag")!, size: 64 });
        }
        let ended = false;
        const listings = (async () => {
          const seen: string[] = [];
          while (!ended || seen.at(-1) !== "upload-not-found") {
            try {
              expect(await h.storage.listParts(k, uploadId)).toEqual(stored);
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
        if (ending === "abort") await h.storage.abortMultipartUpload(k, uploadId);
        else
          await h.storage.completeMultipartUpload(
            k,
            uploadId,
            stored.map(({ partNumber, eTag }) => ({ partNumber, eTag })),
          );
        ended = true;
        expect((await listings).at(-1)).toBe("upload-not-found");
      }
    });

    const singlePutMetadata = {
      "file-name": encodeURIComponent("clip ü.mp4"),
      "request-key": "8204385151761ekHjcTTa1RzQSIHcbtO",
    };
    it("stores a whole object by one signed PUT, once: its length bound, a chunked or refused body keeps nothing, each header it lists needed, a second PUT is refused with 412", async () => {
      const objectKey = key();
      const data = randomBytes(200_000);
      const { url, headers } = await h.storage.presignPutObject(
        objectKey,
        { size: data.length, contentType: "video/mp4", metadata: singlePutMetadata },
        600,
      );
      await expectRefused(fetch(url, { method: "PUT", body: data.subarray(1), headers }));
      await expectRefused(fetch(url, { method: "PUT", body: Buffer.concat([data, Buffer.from("x")]), headers }));
      await expectRefused(fetch(url, { method: "PUT", ...chunked(data.subarray(10)), headers }));
      // Each header the store asks for is signed: a PUT without one of them, or with another value, is refused.
      for (const name of Object.keys(headers)) {
        const { [name]: _left, ...others } = headers;
        await expectRefused(fetch(url, { method: "PUT", body: data, headers: others }));
        await expectRefused(
          fetch(url, { method: "PUT", body: data, headers: { ...headers, [name]: `${headers[name]}x` } }),
        );
      }
      expect(await h.storage.objectSize(objectKey)).toBeUndefined();

      // Exactly the listed headers store it; the request's Content-Type does not set the download's.
      const stored = await fetch(url, {
        method: "PUT",
        body: data,
        headers: { ...headers, "content-type": "text/html" },
      });
      expect(stored.status).toBe(200);
      expect(stored.headers.get("etag")).toBe(md5(data));
      expect(await h.storage.objectSize(objectKey)).toBe(data.length);
      // The same URL, the same length, other bytes: refused, and the stored bytes stay as they were.
      const again = await fetch(url, { method: "PUT", body: randomBytes(data.length), headers }).catch(() => undefined);
      expect(again?.status ?? 412).toBe(412);
      await again?.arrayBuffer().catch(() => undefined);
      expect((await fetch(url, { method: "PUT", body: data, headers })).status).toBe(412);

      const disposition = 'attachment; filename="clip.mp4"';
      const download = await fetch(
        await h.storage.presignDownload(objectKey, 600, { contentDisposition: disposition, contentType: "video/mp4" }),
      );
      expect(download.status).toBe(200);
      expect(download.headers.get("content-type")).toBe("video/mp4");
      expect(download.headers.get("content-disposition")).toBe(disposition);
      expect(Buffer.from(await download.arrayBuffer()).equals(data)).toBe(true);
      expect(await h.storage.objectHead(objectKey)).toEqual({
        size: data.length,
        metadata: singlePutMetadata,
        storedHeaders: {},
      });
      await h.storage.deleteObject(objectKey);
      expect(await h.storage.objectSize(objectKey)).toBeUndefined();
      expect(await h.storage.objectHead(objectKey)).toBeUndefined();
    });

    it("of two single PUTs to one URL at once, exactly one stores its bytes and the other is refused with 412", async () => {
      for (let round = 0; round < 5; round++) {
        const objectKey = key();
        const bodies = [randomBytes(300_000), randomBytes(300_000)];
        const { url, headers } = await h.storage.presignPutObject(
          objectKey,
          { size: 300_000, contentType: "video/mp4", metadata: {} },
          600,
        );
        const statuses = await Promise.all(
          bodies.map(async (body) => {
            const response = await fetch(url, { method: "PUT", body, headers });
            await response.arrayBuffer().catch(() => undefined);
            return response.status;
          }),
        );
        // S3 may answer 409 (ConditionalRequestConflict) to the loser of a race it sees mid-write.
        expect(statuses.filter((s) => s === 200)).toHaveLength(1);
        expect(statuses.filter((s) => s !== 200).every((s) => s === 412 || s === 409)).toBe(true);
        const download = await fetch(await h.storage.presignDownload(objectKey, 600));
        expect(Buffer.from(await download.arrayBuffer()).equals(bodies[statuses.indexOf(200)]!)).toBe(true);
        await h.storage.deleteObject(objectKey);
      }
    });

    it("gives a single PUT's object the same metadata a multipart upload's object gets", async () => {
      const single = key();
      const data = randomBytes(1000);
      const { url, headers } = await h.storage.presignPutObject(
        single,
        { size: data.length, contentType: "video/mp4", metadata: singlePutMetadata },
        600,
      );
      expect((await fetch(url, { method: "PUT", body: data, headers })).status).toBe(200);
      const multipart = key();
      const uploadId = await h.storage.createMultipartUpload(multipart, { ...meta, metadata: singlePutMetadata });
      const part = await put(h.storage, multipart, uploadId, 1, data);
      await h.storage.completeMultipartUpload(multipart, uploadId, [
        { partNumber: 1, eTag: part.headers.get("etag")! },
      ]);
      const metadataOf = async (objectKey: string) => {
        const response = await fetch(await h.storage.presignDownload(objectKey, 600));
        await response.arrayBuffer();
        return Object.fromEntries([...response.headers].filter(([name]) => name.startsWith("x-amz-meta-")));
      };
      const expected = {
        "x-amz-meta-file-name": singlePutMetadata["file-name"],
        "x-amz-meta-request-key": singlePutMetadata["request-key"],
      };
      expect(await metadataOf(single)).toEqual(expected);
      expect(await metadataOf(multipart)).toEqual(expected);
      // A URL whose metadata was changed does not match its signature.
      const tampered = new URL(url);
      tampered.searchParams.set("x-amz-meta-file-name", "other.mp4");
      await h.storage.deleteObject(single);
      await expectRefused(fetch(tampered, { method: "PUT", body: data, headers }));
      expect(await h.storage.objectSize(single)).toBeUndefined();
      await h.storage.deleteObject(multipart);
    });

    it("tells the size of a stored object, and that a missing one has none", async () => {
      const objectKey = key();
      const data = randomBytes(1234);
      const { url, headers } = await h.storage.presignPutObject(
        objectKey,
        { size: data.length, contentType: "video/mp4", metadata: {} },
        600,
      );
      expect((await fetch(url, { method: "PUT", body: data, headers })).status).toBe(200);
      expect(await h.storage.objectSize(objectKey)).toBe(data.length);
      expect(await h.storage.objectSize(`${h.prefix}/files/no-such-object`)).toBeUndefined();
      await h.storage.deleteObject(objectKey);
    });

    it("reads byte ranges of a stored object, across its parts, short at its end, empty past it; none of a missing one", async () => {
      const k = key();
      const uploadId = await h.storage.createMultipartUpload(k, meta);
      const parts = [randomBytes(5 * MiB), randomBytes(1000)];
      const eTags: string[] = [];
      for (const [i, data] of parts.entries())
        eTags.push((await put(h.storage, k, uploadId, i + 1, data)).headers.get("etag")!);
      await h.storage.completeMultipartUpload(
        k,
        uploadId,
        eTags.map((eTag, i) => ({ partNumber: i + 1, eTag })),
      );
      const whole = Buffer.concat(parts);
      const size = whole.length;
      const read = async (offset: number, length: number) =>
        Buffer.from((await h.storage.readObjectRange(k, offset, length))!);
      expect(await read(0, 16)).toEqual(whole.subarray(0, 16));
      expect(await read(5 * MiB - 10, 20)).toEqual(whole.subarray(5 * MiB - 10, 5 * MiB + 10));
      expect(await read(size - 5, 100)).toEqual(whole.subarray(size - 5));
      expect((await read(size, 10)).length).toBe(0);
      expect((await read(size + 1000, 10)).length).toBe(0);
      expect((await read(7, 0)).length).toBe(0);
      expect(await h.storage.readObjectRange(`${h.prefix}/files/no-such-object`, 0, 10)).toBeUndefined();
      expect(await h.storage.readObjectRange(`${h.prefix}/files/no-such-object`, 0, 0)).toBeUndefined();
      await expect(h.storage.readObjectRange(k, -1, 10)).rejects.toBeInstanceOf(RangeError);
      await expect(h.storage.readObjectRange(k, 0, 64 * MiB)).rejects.toBeInstanceOf(RangeError);

      // A single-PUT object, and an empty one.
      const single = key();
      const data = randomBytes(3000);
      const signed = await h.storage.presignPutObject(
        single,
        { size: data.length, contentType: "video/mp4", metadata: {} },
        600,
      );
      expect((await fetch(signed.url, { method: "PUT", body: data, headers: signed.headers })).status).toBe(200);
      expect(Buffer.from((await h.storage.readObjectRange(single, 2990, 64))!)).toEqual(data.subarray(2990));
      const empty = key();
      const signedEmpty = await h.storage.presignPutObject(
        empty,
        { size: 0, contentType: "video/mp4", metadata: {} },
        600,
      );
      expect(
        (await fetch(signedEmpty.url, { method: "PUT", body: new Uint8Array(0), headers: signedEmpty.headers })).status,
      ).toBe(200);
      expect((await h.storage.readObjectRange(empty, 0, 10))?.length).toBe(0);
      for (const objectKey of [k, single, empty]) await h.storage.deleteObject(objectKey);
      expect(await h.storage.readObjectRange(k, 0, 10)).toBeUndefined();
    });

    it("is ready", async () => {
      await expect(h.storage.checkReady()).resolves.toBeUndefined();
    });
  });
}
