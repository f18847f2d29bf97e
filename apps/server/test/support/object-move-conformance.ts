import { createHash, randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import type { ObjectStore } from "../../src/storage/object-store.port";
import type { ObjectStoreCases } from "./object-store-conformance";
import { meta, put } from "./object-store-requests";

/** Moves of stored objects (`moveObject`, what quarantine does): part of the object store's suite. */
export function moveCases({ harness, key }: ObjectStoreCases, size = 64 * 1024): void {
  it("moves an object: the same bytes, size, type, disposition and metadata at the new key, nothing at the old", async () => {
    const storage = harness().storage;
    const [from, to] = [key(), key()];
    const data = await storeObject(storage, from, size);
    const head = await storage.objectHead(from);
    expect(head?.size).toBe(size);

    expect(await storage.moveObject(from, to)).toBe(true);
    expect(await storage.objectSize(from)).toBeUndefined();
    expect(await storage.readObjectRange(from, 0, 1)).toBeUndefined();
    expect(await storage.objectHead(to)).toEqual(head);
    const download = await fetch(await storage.presignDownload(to, 600));
    expect(download.status).toBe(200);
    expect(download.headers.get("content-type")).toBe(meta.contentType);
    expect(download.headers.get("content-disposition")).toBe(meta.contentDisposition);
    expect(sha256(Buffer.from(await download.arrayBuffer()))).toBe(sha256(data));
    // The old key's download URL finds nothing.
    expect((await fetch(await storage.presignDownload(from, 600))).status).toBe(404);

    // Sent again (a reply lost): nothing to move, and the moved object stays as it is.
    expect(await storage.moveObject(from, to)).toBe(false);
    expect(await storage.objectSize(to)).toBe(size);
  });

  it("moves an object whose key has each character an object key may have", async () => {
    const storage = harness().storage;
    // objectKeyProblem's characters (an embedding app's `objectKey` names objects with them), each segment deep.
    const from = `${key()}/A-z_0.9/it's (1)*!.mp4`;
    const to = key();
    const data = await storeObject(storage, from, 1000);
    expect(await storage.moveObject(from, to)).toBe(true);
    expect(await storage.objectSize(from)).toBeUndefined();
    expect(sha256(await readWhole(storage, to, 1000))).toBe(sha256(data));
  });

  it("moving a missing object answers false and makes nothing", async () => {
    const storage = harness().storage;
    const [from, to] = [key(), key()];
    expect(await storage.moveObject(from, to)).toBe(false);
    expect(await storage.objectSize(from)).toBeUndefined();
    expect(await storage.objectSize(to)).toBeUndefined();
  });

  it("moving onto a stored object replaces it", async () => {
    const storage = harness().storage;
    const [from, to] = [key(), key()];
    const moved = await storeObject(storage, from, size);
    await storeObject(storage, to, 1000);
    expect(await storage.moveObject(from, to)).toBe(true);
    expect(await storage.objectSize(from)).toBeUndefined();
    expect(await storage.objectSize(to)).toBe(size);
    expect(sha256(await readWhole(storage, to, size))).toBe(sha256(moved));
  });

  it("two moves of one object at once: neither fails, one or both answer true, the object ends whole at the new key", async () => {
    const storage = harness().storage;
    const [from, to] = [key(), key()];
    const data = await storeObject(storage, from, size);
    const results = await Promise.all([storage.moveObject(from, to), storage.moveObject(from, to)]);
    expect(results).toContain(true);
    expect(await storage.objectSize(from)).toBeUndefined();
    expect(sha256(await readWhole(storage, to, size))).toBe(sha256(data));
  });

  it("two moves of one object to two keys at once: it ends whole at one of them (or both), never at neither", async () => {
    const storage = harness().storage;
    const [from, a, b] = [key(), key(), key()];
    const data = await storeObject(storage, from, size);
    const results = await Promise.all([storage.moveObject(from, a), storage.moveObject(from, b)]);
    expect(results).toContain(true);
    expect(await storage.objectSize(from)).toBeUndefined();
    for (const [index, to] of [a, b].entries()) {
      // A move that answered false left nothing at its key; one that answered true left the whole object there.
      if (results[index]) expect(sha256(await readWhole(storage, to, size))).toBe(sha256(data));
      else expect(await storage.objectSize(to)).toBeUndefined();
    }
  });
}

/** Stores `size` random bytes as `key` by a one-part multipart upload (the type and metadata of `meta`). */
export async function storeObject(storage: ObjectStore, key: string, size: number): Promise<Buffer> {
  const data = randomBytes(size);
  const uploadId = await storage.createMultipartUpload(key, meta);
  const response = await put(storage, key, uploadId, 1, data);
  expect(response.status).toBe(200);
  await storage.completeMultipartUpload(key, uploadId, [{ partNumber: 1, eTag: response.headers.get("etag")! }]);
  return data;
}

/** The whole stored object, by ranged reads. */
async function readWhole(storage: ObjectStore, key: string, size: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < size; offset += 8 * 1024 * 1024) {
    const chunk = await storage.readObjectRange(key, offset, Math.min(8 * 1024 * 1024, size - offset));
    expect(chunk).toBeDefined();
    chunks.push(chunk!);
  }
  return Buffer.concat(chunks);
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
