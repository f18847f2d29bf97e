import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Storage } from "../../src/storage/storage.port";
import type { StoreHarness } from "./store-harness";

/** An adapter of the whole `Storage` port, and a prefix no other test run uses. */
export type StorageHarness = StoreHarness<Storage>;

/**
 * What `Storage` adds to its two halves (each has its own suite: object-store-conformance.ts and
 * document-store-conformance.ts): one key space, and `deleteObject` deleting a document too, which callers written
 * before the split rely on.
 */
export function storageConformance(name: string, makeHarness: () => Promise<StorageHarness>): void {
  describe(`Storage conformance: ${name}`, () => {
    let h: StorageHarness;

    beforeAll(async () => {
      h = await makeHarness();
    });
    afterAll(async () => {
      await h?.close();
    });

    it("deletes a document with deleteObject, and an object beside it is kept", async () => {
      const doc = `${h.prefix}/combined/${randomBytes(6).toString("hex")}.json`;
      const objectKey = `${h.prefix}/combined/${randomBytes(6).toString("hex")}`;
      const data = randomBytes(100);
      const { url, headers } = await h.storage.presignPutObject(
        objectKey,
        { size: data.length, contentType: "video/mp4", metadata: {} },
        600,
      );
      expect((await fetch(url, { method: "PUT", body: data, headers })).status).toBe(200);
      await h.storage.writeJson(doc, { a: 1 });
      await h.storage.deleteObject(doc);
      expect(await h.storage.readDocument(doc)).toBeUndefined();
      expect(await h.storage.writeJson(doc, { a: 2 }, { ifNoneMatch: true })).toBe(true);
      expect(await h.storage.objectSize(objectKey)).toBe(data.length);
      await h.storage.deleteObject(objectKey);
      expect(await h.storage.objectSize(objectKey)).toBeUndefined();
      await h.storage.deleteDocument(doc);
    });

    it("is ready", async () => {
      await expect(h.storage.checkReady()).resolves.toBeUndefined();
    });
  });
}
