import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../storage/memory.storage";
import { RequestCounter } from "../../test/support/counting-storage";
import { newRequestKey, recordKey } from "./upload-keys";
import type { UploadRecord } from "./upload-record";
import { MAX_SWAP_ATTEMPTS, UploadRecords } from "./upload-records";

function record(requestKey = newRequestKey()): UploadRecord {
  const now = new Date().toISOString();
  return {
    version: 1,
    projectId: "demo",
    requestKey,
    uploadId: "u",
    objectKey: `projects/demo/files/${requestKey}`,
    fileName: "a.mp4",
    mimeType: "video/mp4",
    contentLength: 10,
    partSize: 10,
    partsNumber: 1,
    lastPartSize: 10,
    state: "uploading",
    createdAt: now,
    updatedAt: now,
    completedAt: null,
    abortedAt: null,
  };
}

describe("UploadRecords", () => {
  it("reads a record; a missing, malformed or other project's one is none, and load answers 404 for it", async () => {
    const storage = new MemoryStorage();
    const records = new UploadRecords(storage);
    const kept = record();
    await records.create(kept);
    expect(await records.read("demo", kept.requestKey)).toEqual(kept);
    const malformed = newRequestKey();
    await storage.writeJson(recordKey("demo", malformed), { state: "uploading" });
    const elsewhere = newRequestKey();
    await storage.writeJson(recordKey("demo", elsewhere), { ...record(elsewhere), projectId: "other" });
    for (const requestKey of [newRequestKey(), malformed, elsewhere, "../escape"]) {
      expect(await records.read("demo", requestKey)).toBeUndefined();
      const notFound = { problems: [{ code: "UPLOAD_NOT_FOUND" }] };
      await expect(records.load("demo", requestKey)).rejects.toMatchObject(notFound);
    }
  });

  it("swaps only from the version read; update retries a lost swap, and gives up as unavailable under a storm", async () => {
    const storage = new MemoryStorage();
    const records = new UploadRecords(storage);
    const kept = record();
    await records.create(kept);
    const { version } = await records.loadVersioned("demo", kept.requestKey);
    expect(await records.swap({ ...kept, fileName: "b.mp4" }, version)).toEqual({ version: expect.any(String) });
    expect(await records.swap({ ...kept, fileName: "c.mp4" }, version)).toBeUndefined();
    expect((await records.load("demo", kept.requestKey)).fileName).toBe("b.mp4");

    // Another writer changes the record between each read and swap: every attempt is lost.
    let attempts = 0;
    const storm = records.update(kept, (current) => {
      attempts++;
      void storage.writeJson(recordKey("demo", kept.requestKey), { ...current, updatedAt: String(attempts) });
      return { ...current, fileName: "d.mp4" };
    });
    await expect(storm).rejects.toMatchObject({ reason: "unavailable" });
    expect(attempts).toBe(MAX_SWAP_ATTEMPTS);
    // Nothing to change: no write at all.
    const unchanged = await records.update(kept, () => undefined);
    expect(unchanged.changed).toBe(false);
  });

  it("update from a version known: no read when its swap wins; a stale one is decided on the record read", async () => {
    const counter = new RequestCounter();
    const storage = counter.wrap(new MemoryStorage());
    const records = new UploadRecords(storage);
    const kept = record();
    await records.create(kept);
    const { version } = await records.loadVersioned("demo", kept.requestKey);
    counter.reset();
    const renamed = await records.update(kept, (current) => ({ ...current, fileName: "b.mp4" }), version);
    expect(renamed).toMatchObject({ changed: true, record: { fileName: "b.mp4" }, version: expect.any(String) });
    expect(counter.byMethod()).toEqual({ writeJson: 1 });
    // The version written is the one stored: the next change from it needs no read either.
    counter.reset();
    await records.update(renamed.record, (current) => ({ ...current, fileName: "c.mp4" }), renamed.version);
    expect(counter.byMethod()).toEqual({ writeJson: 1 });
    // `version` is stale now: the swap loses, the record is read, and the change applies to what it says.
    counter.reset();
    const again = await records.update(kept, (current) => ({ ...current, fileName: `${current.fileName}+` }), version);
    expect(again.record.fileName).toBe("c.mp4+");
    expect(counter.byMethod()).toEqual({ writeJson: 2, readDocument: 1 });
    // Nothing to change on the stale record is no answer either: the stored record decides.
    const stale = await records.update(
      kept,
      (current) => (current.fileName === "a.mp4" ? undefined : current),
      version,
    );
    expect(stale.record.fileName).toBe("c.mp4+");
  });

  it("pushes urlsExpireAt later only, and not once the upload has ended", async () => {
    const records = new UploadRecords(new MemoryStorage());
    const kept = { ...record(), urlsExpireAt: "2030-01-01T00:00:00.000Z" };
    await records.create(kept);
    await records.extendExpiry(kept, "2029-01-01T00:00:00.000Z");
    expect((await records.load("demo", kept.requestKey)).urlsExpireAt).toBe("2030-01-01T00:00:00.000Z");
    await records.extendExpiry(kept, "2031-01-01T00:00:00.000Z");
    expect((await records.load("demo", kept.requestKey)).urlsExpireAt).toBe("2031-01-01T00:00:00.000Z");
    const ended = await records.update(kept, (current) => ({ ...current, state: "aborted" }));
    await records.extendExpiry(ended.record, "2032-01-01T00:00:00.000Z");
    expect((await records.load("demo", kept.requestKey)).urlsExpireAt).toBe("2031-01-01T00:00:00.000Z");
  });
});
