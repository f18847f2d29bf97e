import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../../storage/memory.storage";
import { StorageError } from "../../storage/storage.port";
import { newRequestKey, objectKey, quarantineKey, quarantineObjectKey } from "../upload-keys";
import type { UploadRecord } from "../upload-record";
import { quarantineRejected } from "./quarantine";

// The quarantine of a rejected object on its own, as retries and replicas run it (the content check's path to it:
// content-verification.test.ts).

function rejected(): UploadRecord {
  const requestKey = newRequestKey();
  return {
    projectId: "demo",
    requestKey,
    objectKey: objectKey("demo", requestKey),
    fileName: "clip.mp4",
    mimeType: "video/mp4",
    contentLength: 0,
    state: "rejected",
    verification: { state: "failed", detectedMimeType: "text/html", code: "TYPE_MISMATCH", reason: "HTML" },
    verifiedAt: "2026-01-01T00:00:00.000Z",
  } as UploadRecord;
}

async function store(storage: MemoryStorage, key: string, text: string): Promise<void> {
  const bytes = Buffer.from(text);
  await storage.writeObject(key, Readable.from([bytes]), { expectedSize: bytes.length, contentType: "video/mp4" });
}

async function text(storage: MemoryStorage, key: string): Promise<string | undefined> {
  const bytes = await storage.readObjectRange(key, 0, 1024);
  return bytes && Buffer.from(bytes).toString();
}

const sha = (value: string) => createHash("sha256").update(value).digest("hex");

describe("quarantine of a rejected object", () => {
  it("moves it off its key to projects/{id}/quarantine/{requestKey}/object and lists it there", async () => {
    const storage = new MemoryStorage();
    const record = rejected();
    await store(storage, record.objectKey, "<html>judged</html>");
    const entry = await quarantineRejected(storage, record);
    const kept = `projects/demo/quarantine/${record.requestKey}/object`;
    expect(quarantineObjectKey("demo", record.requestKey)).toBe(kept);
    expect(entry).toMatchObject({ objectKey: kept, movedFrom: record.objectKey, fileName: "clip.mp4" });
    expect(await storage.readJson(quarantineKey("demo", record.requestKey))).toEqual(entry);
    expect(await storage.objectSize(record.objectKey)).toBeUndefined();
    expect(sha((await text(storage, kept))!)).toBe(sha("<html>judged</html>"));
  });

  it("sent again after its listing failed, finishes: the kept bytes stay, a late PUT at the key is deleted", async () => {
    const memory = new MemoryStorage();
    let listingFails = true;
    const storage = new Proxy(memory, {
      get(target, name, receiver) {
        if (name === "writeJson" && listingFails) {
          return () => Promise.reject(new StorageError("unavailable", "the store is down"));
        }
        const value: unknown = Reflect.get(target, name, receiver);
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const record = rejected();
    await store(memory, record.objectKey, "<html>judged</html>");
    await expect(quarantineRejected(storage, record)).rejects.toMatchObject({ reason: "unavailable" });
    // A single-PUT URL cannot be revoked: something else is stored at the freed key before the retry.
    await store(memory, record.objectKey, "late");
    listingFails = false;
    const entry = await quarantineRejected(storage, record);
    const kept = quarantineObjectKey("demo", record.requestKey);
    expect(entry.objectKey).toBe(kept);
    expect(await text(memory, kept)).toBe("<html>judged</html>");
    expect(await memory.objectSize(record.objectKey)).toBeUndefined();
  });

  it("two runs at once (two replicas) keep the object once and list it", async () => {
    const storage = new MemoryStorage();
    const record = rejected();
    await store(storage, record.objectKey, "<html>judged</html>");
    const entries = await Promise.all([quarantineRejected(storage, record), quarantineRejected(storage, record)]);
    const kept = quarantineObjectKey("demo", record.requestKey);
    expect(entries.map((e) => e.objectKey)).toEqual([kept, kept]);
    expect(await text(storage, kept)).toBe("<html>judged</html>");
    expect(await storage.objectSize(record.objectKey)).toBeUndefined();
  });

  it("an object gone before it could be moved is listed as not kept", async () => {
    const storage = new MemoryStorage();
    const record = rejected();
    const entry = await quarantineRejected(storage, record);
    expect(entry.objectKey).toBeNull();
    expect(await storage.objectSize(quarantineObjectKey("demo", record.requestKey))).toBeUndefined();
  });
});
