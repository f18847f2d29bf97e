import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DocumentStore } from "../../src/storage/document-store.port";
import type { StoreHarness } from "./store-harness";

/**
 * The behaviour every `DocumentStore` adapter must share: JSON documents, their listing, and compare-and-swap writes of
 * which exactly one of racing writers wins. test/storage.conformance.test.ts runs it on each adapter (the objects:
 * object-store-conformance.ts).
 */
export type DocumentStoreHarness = StoreHarness<DocumentStore>;

export function documentStoreConformance(name: string, makeHarness: () => Promise<DocumentStoreHarness>): void {
  describe(`DocumentStore conformance: ${name}`, () => {
    let h: DocumentStoreHarness;
    let n = 0;

    beforeAll(async () => {
      h = await makeHarness();
    });
    afterAll(async () => {
      await h?.close();
    });

    it("keeps JSON documents: create-if-absent is atomic, listing is ordered and paged, delete is idempotent", async () => {
      const base = `${h.prefix}/docs/`;
      expect(await h.storage.readJson(`${base}missing.json`)).toBeUndefined();
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) => h.storage.writeJson(`${base}b.json`, { i }, { ifNoneMatch: true })),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      await h.storage.writeJson(`${base}a.json`, { a: 1 });
      await h.storage.writeJson(`${base}c.json`, { c: 1 });
      await h.storage.writeJson(`${base}a.json`, { a: 2 });
      expect(await h.storage.readJson(`${base}a.json`)).toEqual({ a: 2 });

      const first = await h.storage.listKeys(base, { limit: 2 });
      expect(first).toEqual({ keys: [`${base}a.json`, `${base}b.json`], isTruncated: true });
      const second = await h.storage.listKeys(base, { limit: 2, startAfter: first.keys[1] });
      expect(second).toEqual({ keys: [`${base}c.json`], isTruncated: false });

      await h.storage.deleteDocument(`${base}b.json`);
      await h.storage.deleteDocument(`${base}b.json`);
      expect(await h.storage.readJson(`${base}b.json`)).toBeUndefined();
      expect(await h.storage.writeJson(`${base}b.json`, { again: true }, { ifNoneMatch: true })).toBe(true);
    });

    it("reads a document with its version; a write conditioned on that version succeeds once, then it is stale", async () => {
      const doc = `${h.prefix}/docs/cas-${++n}.json`;
      await h.storage.writeJson(doc, { state: "uploading" });
      const read = await h.storage.readDocument(doc);
      expect(read?.value).toEqual({ state: "uploading" });
      expect(read?.version).toEqual(expect.any(String));
      expect(await h.storage.writeJson(doc, { state: "completed" }, { ifMatch: read!.version })).toBe(true);
      const after = await h.storage.readDocument(doc);
      expect(after).toEqual({ value: { state: "completed" }, version: expect.any(String) });
      expect(after!.version).not.toBe(read!.version);
      // The version read before the write is stale now: refused, and the document is unchanged.
      expect(await h.storage.writeJson(doc, { state: "aborted" }, { ifMatch: read!.version })).toBe(false);
      expect((await h.storage.readDocument(doc))?.value).toEqual({ state: "completed" });
      // An unconditional write makes the version read before it stale too.
      await h.storage.writeJson(doc, { state: "rewritten" });
      expect(await h.storage.writeJson(doc, { state: "aborted" }, { ifMatch: after!.version })).toBe(false);
      expect((await h.storage.readDocument(doc))?.value).toEqual({ state: "rewritten" });
    });

    it("writeDocument tells the version it wrote: the one a read answers, and a write conditioned on it wins", async () => {
      const doc = `${h.prefix}/docs/written-${++n}.json`;
      const write = h.storage.writeDocument!.bind(h.storage);
      const created = await write(doc, { step: 1 }, { ifNoneMatch: true });
      expect(created).toEqual({ version: (await h.storage.readDocument(doc))!.version });
      expect(await write(doc, { step: 0 }, { ifNoneMatch: true })).toBeUndefined();
      const swapped = await write(doc, { step: 2 }, { ifMatch: created!.version! });
      expect(swapped).toEqual({ version: (await h.storage.readDocument(doc))!.version });
      expect(await write(doc, { step: 3 }, { ifMatch: created!.version! })).toBeUndefined(); // stale now
      expect(await write(doc, { step: 3 }, { ifMatch: swapped!.version! })).toEqual({ version: expect.any(String) });
      expect((await h.storage.readDocument(doc))?.value).toEqual({ step: 3 });
    });

    it("refuses a write conditioned on a version of a document that does not exist", async () => {
      const doc = `${h.prefix}/docs/cas-missing-${++n}.json`;
      expect(await h.storage.readDocument(doc)).toBeUndefined();
      expect(await h.storage.writeJson(doc, { x: 1 }, { ifMatch: "0123456789abcdef0123456789abcdef" })).toBe(false);
      expect(await h.storage.readDocument(doc)).toBeUndefined();
      const written = `${h.prefix}/docs/cas-deleted-${++n}.json`;
      await h.storage.writeJson(written, { x: 1 });
      const read = await h.storage.readDocument(written);
      await h.storage.deleteDocument(written);
      expect(await h.storage.writeJson(written, { x: 2 }, { ifMatch: read!.version })).toBe(false);
      expect(await h.storage.readDocument(written)).toBeUndefined();
    });

    it("of concurrent writers conditioned on one version, exactly one wins and its value is stored", async () => {
      const doc = `${h.prefix}/docs/cas-race-${++n}.json`;
      await h.storage.writeJson(doc, { round: -1 });
      for (let round = 0; round < 5; round++) {
        const { version } = (await h.storage.readDocument(doc))!;
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, writer) => h.storage.writeJson(doc, { round, writer }, { ifMatch: version })),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await h.storage.readDocument(doc))?.value).toEqual({ round, writer: results.indexOf(true) });
      }
    });

    it("is ready", async () => {
      await expect(h.storage.checkReady()).resolves.toBeUndefined();
    });
  });
}
