import { randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import type { ObjectStoreCases } from "./object-store-conformance";
import { chunked, expectRefused, md5, meta, MiB, put } from "./object-store-requests";

/** Single PUTs to signed URLs, and the reads of stored objects (size, head, ranges): part of the object store's suite. */
export function singlePutCases({ harness, key }: ObjectStoreCases): void {
  const singlePutMetadata = {
    "file-name": encodeURIComponent("clip ü.mp4"),
    "request-key": "8204385151761ekHjcTTa1RzQSIHcbtO",
  };
  it("stores a whole object by one signed PUT, once: its length bound, a chunked or refused body keeps nothing, each header it lists needed, a second PUT is refused with 412", async () => {
    const objectKey = key();
    const data = randomBytes(200_000);
    const { url, headers } = await harness().storage.presignPutObject(
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
    expect(await harness().storage.objectSize(objectKey)).toBeUndefined();

    // Exactly the listed headers store it; the request's Content-Type does not set the download's.
    const stored = await fetch(url, {
      method: "PUT",
      body: data,
      headers: { ...headers, "content-type": "text/html" },
    });
    expect(stored.status).toBe(200);
    expect(stored.headers.get("etag")).toBe(md5(data));
    expect(await harness().storage.objectSize(objectKey)).toBe(data.length);
    // The same URL, the same length, other bytes: refused, and the stored bytes stay as they were.
    const again = await fetch(url, { method: "PUT", body: randomBytes(data.length), headers }).catch(() => undefined);
    expect(again?.status ?? 412).toBe(412);
    await again?.arrayBuffer().catch(() => undefined);
    expect((await fetch(url, { method: "PUT", body: data, headers })).status).toBe(412);

    const disposition = 'attachment; filename="clip.mp4"';
    const download = await fetch(
      await harness().storage.presignDownload(objectKey, 600, {
        contentDisposition: disposition,
        contentType: "video/mp4",
      }),
    );
    expect(download.status).toBe(200);
    expect(download.headers.get("content-type")).toBe("video/mp4");
    expect(download.headers.get("content-disposition")).toBe(disposition);
    expect(Buffer.from(await download.arrayBuffer()).equals(data)).toBe(true);
    expect(await harness().storage.objectHead(objectKey)).toEqual({
      size: data.length,
      metadata: singlePutMetadata,
      storedHeaders: {},
    });
    await harness().storage.deleteObject(objectKey);
    expect(await harness().storage.objectSize(objectKey)).toBeUndefined();
    expect(await harness().storage.objectHead(objectKey)).toBeUndefined();
  });

  it("of two single PUTs to one URL at once, exactly one stores its bytes and the other is refused with 412", async () => {
    for (let round = 0; round < 5; round++) {
      const objectKey = key();
      const bodies = [randomBytes(300_000), randomBytes(300_000)];
      const { url, headers } = await harness().storage.presignPutObject(
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
      const download = await fetch(await harness().storage.presignDownload(objectKey, 600));
      expect(Buffer.from(await download.arrayBuffer()).equals(bodies[statuses.indexOf(200)]!)).toBe(true);
      await harness().storage.deleteObject(objectKey);
    }
  });

  it("gives a single PUT's object the same metadata a multipart upload's object gets", async () => {
    const single = key();
    const data = randomBytes(1000);
    const { url, headers } = await harness().storage.presignPutObject(
      single,
      { size: data.length, contentType: "video/mp4", metadata: singlePutMetadata },
      600,
    );
    expect((await fetch(url, { method: "PUT", body: data, headers })).status).toBe(200);
    const multipart = key();
    const uploadId = await harness().storage.createMultipartUpload(multipart, { ...meta, metadata: singlePutMetadata });
    const part = await put(harness().storage, multipart, uploadId, 1, data);
    await harness().storage.completeMultipartUpload(multipart, uploadId, [
      { partNumber: 1, eTag: part.headers.get("etag")! },
    ]);
    const metadataOf = async (objectKey: string) => {
      const response = await fetch(await harness().storage.presignDownload(objectKey, 600));
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
    await harness().storage.deleteObject(single);
    await expectRefused(fetch(tampered, { method: "PUT", body: data, headers }));
    expect(await harness().storage.objectSize(single)).toBeUndefined();
    await harness().storage.deleteObject(multipart);
  });

  it("tells the size of a stored object, and that a missing one has none", async () => {
    const objectKey = key();
    const data = randomBytes(1234);
    const { url, headers } = await harness().storage.presignPutObject(
      objectKey,
      { size: data.length, contentType: "video/mp4", metadata: {} },
      600,
    );
    expect((await fetch(url, { method: "PUT", body: data, headers })).status).toBe(200);
    expect(await harness().storage.objectSize(objectKey)).toBe(data.length);
    expect(await harness().storage.objectSize(`${harness().prefix}/files/no-such-object`)).toBeUndefined();
    await harness().storage.deleteObject(objectKey);
  });

  it("reads byte ranges of a stored object, across its parts, short at its end, empty past it; none of a missing one", async () => {
    const k = key();
    const uploadId = await harness().storage.createMultipartUpload(k, meta);
    const parts = [randomBytes(5 * MiB), randomBytes(1000)];
    const eTags: string[] = [];
    for (const [i, data] of parts.entries())
      eTags.push((await put(harness().storage, k, uploadId, i + 1, data)).headers.get("etag")!);
    await harness().storage.completeMultipartUpload(
      k,
      uploadId,
      eTags.map((eTag, i) => ({ partNumber: i + 1, eTag })),
    );
    const whole = Buffer.concat(parts);
    const size = whole.length;
    const read = async (offset: number, length: number) =>
      Buffer.from((await harness().storage.readObjectRange(k, offset, length))!);
    expect(await read(0, 16)).toEqual(whole.subarray(0, 16));
    expect(await read(5 * MiB - 10, 20)).toEqual(whole.subarray(5 * MiB - 10, 5 * MiB + 10));
    expect(await read(size - 5, 100)).toEqual(whole.subarray(size - 5));
    expect((await read(size, 10)).length).toBe(0);
    expect((await read(size + 1000, 10)).length).toBe(0);
    expect((await read(7, 0)).length).toBe(0);
    expect(await harness().storage.readObjectRange(`${harness().prefix}/files/no-such-object`, 0, 10)).toBeUndefined();
    expect(await harness().storage.readObjectRange(`${harness().prefix}/files/no-such-object`, 0, 0)).toBeUndefined();
    await expect(harness().storage.readObjectRange(k, -1, 10)).rejects.toBeInstanceOf(RangeError);
    await expect(harness().storage.readObjectRange(k, 0, 64 * MiB)).rejects.toBeInstanceOf(RangeError);

    // A single-PUT object, and an empty one.
    const single = key();
    const data = randomBytes(3000);
    const signed = await harness().storage.presignPutObject(
      single,
      { size: data.length, contentType: "video/mp4", metadata: {} },
      600,
    );
    expect((await fetch(signed.url, { method: "PUT", body: data, headers: signed.headers })).status).toBe(200);
    expect(Buffer.from((await harness().storage.readObjectRange(single, 2990, 64))!)).toEqual(data.subarray(2990));
    const empty = key();
    const signedEmpty = await harness().storage.presignPutObject(
      empty,
      { size: 0, contentType: "video/mp4", metadata: {} },
      600,
    );
    expect(
      (await fetch(signedEmpty.url, { method: "PUT", body: new Uint8Array(0), headers: signedEmpty.headers })).status,
    ).toBe(200);
    expect((await harness().storage.readObjectRange(empty, 0, 10))?.length).toBe(0);
    for (const objectKey of [k, single, empty]) await harness().storage.deleteObject(objectKey);
    expect(await harness().storage.readObjectRange(k, 0, 10)).toBeUndefined();
  });
}
