import { describe, expect, it, vi } from "vitest";
import { StorageError, type WriteConditions } from "../storage/storage.port";
import { body, MiB, readyUpload, refusal, token, workflow } from "../../test/support/workflow";
import {
  hashReservationKey,
  idempotencyEntryKey,
  openSlotPrefix,
  recordKey,
  recordPrefix,
  tokenUploadsKey,
} from "./upload-keys";
import { UploadRefusedError } from "./lifecycle/upload-lifecycle.hooks";

const fileHash = `sha256:${"ab".repeat(32)}`;

describe("StartUpload", () => {
  it("plans the parts, signs a URL per part bound to its size, writes the record and reports upload.started once", async () => {
    const w = workflow();
    const started = await w.start.multipart(w.project, { ...body(12 * MiB), partsNumber: 3, metadata: { a: "1" } });
    expect(started).toMatchObject({ partSize: 5 * MiB, partsNumber: 3, contentLength: String(12 * MiB) });
    expect(started.presignedUrl.map((p) => p.partNumber)).toEqual([1, 2, 3]);
    expect(started.presignedUrl.map((p) => new URL(p.presignedUrl).searchParams.get("size"))).toEqual([
      String(5 * MiB),
      String(5 * MiB),
      String(2 * MiB),
    ]);
    const record = await w.records.load("demo", started.requestKey);
    expect(record).toMatchObject({ state: "uploading", partsNumber: 3, lastPartSize: 2 * MiB, metadata: { a: "1" } });
    expect(record.owner).toBeUndefined();
    expect(w.events.map((e) => e.type)).toEqual(["upload.started"]);
    expect(w.hooked).toEqual(["upload.started"]);
  });

  it("refuses a plan the contract forbids with 400, storing nothing", async () => {
    const w = workflow();
    const refused = await refusal(w.start.multipart(w.project, { ...body(5 * MiB), partsNumber: 2 }));
    expect(refused).toMatchObject({ status: 400, codes: ["VALIDATION_FAILED"] });
    expect((await w.storage.listKeys("", { limit: 10 })).keys).toEqual([]);
  });

  it("checks the project's limits: every problem at once, nothing stored", async () => {
    const w = workflow({ project: { maxFileSize: 999, allowedMimeTypes: ["image/*"] } });
    const refused = await refusal(w.start.multipart(w.project, body(1000)));
    expect(refused.codes).toEqual(["FILE_TOO_LARGE", "MIME_TYPE_NOT_ALLOWED"]);
    expect(refused.status).toBe(413);
    expect(refused.messages).toEqual([
      "is 1000 bytes; project demo accepts at most 999",
      "video/mp4 is not accepted by project demo (allowed: image/*)",
    ]);
    expect((await w.storage.listKeys("", { limit: 10 })).keys).toEqual([]);
    await expect(w.start.multipart(w.project, body(999, { mimeType: "IMAGE/PNG" }))).resolves.toBeDefined();
  });

  it("checks an upload token's constraints after the project's, and records the token's owner", async () => {
    const w = workflow({ project: { maxFileSize: 2000 } });
    const narrow = token({ maxFileSize: 500, allowedMimeTypes: ["video/webm"] });
    const refused = await refusal(w.start.multipart(w.project, body(1000), undefined, narrow));
    expect(refused.messages).toEqual([
      "is 1000 bytes; this upload token allows at most 500",
      "video/mp4 is not allowed by this upload token (allowed: video/webm)",
    ]);
    // The project's limit comes first, in the project's words.
    const tooLarge = await refusal(w.start.multipart(w.project, body(3000), undefined, token({ maxFileSize: 5000 })));
    expect(tooLarge.messages).toEqual(["is 3000 bytes; project demo accepts at most 2000"]);
    const started = await w.start.multipart(w.project, body(400, { mimeType: "video/webm" }), undefined, narrow);
    expect((await w.records.load("demo", started.requestKey)).owner).toBe("user-1");
  });

  it("counts a token's starts against its maxUploads; a replayed start and a failed one do not count", async () => {
    const w = workflow({ project: { maxFileSize: 2000 } });
    const once = token({ maxUploads: 2 });
    await w.start.multipart(w.project, body(), "key-1", once);
    await w.start.multipart(w.project, body(), "key-1", once); // a retry: answered from its Idempotency-Key
    await refusal(w.start.multipart(w.project, body(5000), undefined, once)); // refused before it counts
    await w.start.multipart(w.project, body(), undefined, once);
    const refused = await refusal(w.start.multipart(w.project, body(), undefined, once));
    expect(refused).toMatchObject({ status: 403, codes: ["TOKEN_UPLOAD_LIMIT_REACHED"] });
    expect(await w.storage.readJson(tokenUploadsKey("demo", "tok-1"))).toMatchObject({ started: 2 });
    // Another token of the same owner has its own count.
    const other = token({ maxUploads: 1 }, "user-1", "tok-2");
    await expect(w.start.multipart(w.project, body(), undefined, other)).resolves.toBeDefined();
  });

  it("of a token's starts racing for its last places, exactly that many win", async () => {
    const w = workflow();
    const three = token({ maxUploads: 3 });
    const start = () => w.start.multipart(w.project, body(), undefined, three);
    const results = await Promise.allSettled(Array.from({ length: 8 }, start));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
    for (const r of results) {
      const refused = { problems: [{ code: "TOKEN_UPLOAD_LIMIT_REACHED" }] };
      if (r.status === "rejected") expect(r.reason).toMatchObject(refused);
    }
  });

  it("answers a start repeated with its Idempotency-Key and body with the same upload and fresh URLs", async () => {
    const w = workflow();
    const first = await w.start.multipart(w.project, body(), "key-1");
    const again = await w.start.multipart(w.project, body(), "key-1");
    expect(again.requestKey).toBe(first.requestKey);
    expect(again.presignedUrl).toHaveLength(1);
    expect((await w.storage.listKeys(openSlotPrefix("demo"), { limit: 10 })).keys).toHaveLength(1);
    expect(w.events).toHaveLength(1);
    const reused = await refusal(w.start.multipart(w.project, body(1001), "key-1"));
    expect(reused).toMatchObject({ status: 422, codes: ["IDEMPOTENCY_KEY_REUSED"] });
    // A single PUT with the same key and fields is another body.
    expect((await refusal(w.start.singlePut(w.project, body(), "key-1"))).codes).toEqual(["IDEMPOTENCY_KEY_REUSED"]);
  });

  it("of concurrent starts with one Idempotency-Key makes one upload, and answers it to all", async () => {
    const w = workflow();
    const answers = await Promise.all(Array.from({ length: 6 }, () => w.start.multipart(w.project, body(), "key-1")));
    expect(new Set(answers.map((a) => a.requestKey)).size).toBe(1);
    expect((await w.storage.listKeys(openSlotPrefix("demo"), { limit: 10 })).keys).toHaveLength(1);
  });

  it("waits for a start still making its upload under the key (409 IN_USE after 10 s); takes over one dead 5 minutes", async () => {
    // Fake clock and timers (not setImmediate, on which the in-memory store's calls run): the 10 s pass at once.
    vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"] });
    try {
      const w = workflow();
      const first = await w.start.multipart(w.project, body(), "key-1");
      const entryKey = idempotencyEntryKey("demo", "key-1");
      const entry = (await w.storage.readJson(entryKey)) as { requestKey: string };
      // As a process killed between claiming the key and writing the upload's record leaves it: no such upload.
      const ghost = { ...entry, requestKey: `9${entry.requestKey.slice(1)}` };
      const claimedAgo = (ms: number) => ({ ...ghost, createdAt: new Date(Date.now() - ms).toISOString() });
      await w.storage.writeJson(entryKey, claimedAgo(4 * 60_000));
      let settled = false;
      const waiting = refusal(w.start.multipart(w.project, body(), "key-1")).finally(() => (settled = true));
      while (!settled) {
        await vi.advanceTimersByTimeAsync(100);
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(await waiting).toMatchObject({ status: 409, codes: ["IDEMPOTENCY_KEY_IN_USE"] });
      await w.storage.writeJson(entryKey, claimedAgo(6 * 60_000));
      const taken = await w.start.multipart(w.project, body(), "key-1");
      expect([ghost.requestKey, first.requestKey]).not.toContain(taken.requestKey);
    } finally {
      vi.useRealTimers();
    }
  });

  it("answers a replayed start of an upload that has ended with 409", async () => {
    const w = workflow();
    const first = await w.start.multipart(w.project, body(), "key-1");
    await w.machine.abort(w.project, first.requestKey);
    expect((await refusal(w.start.multipart(w.project, body(), "key-1"))).codes).toEqual(["UPLOAD_NOT_IN_PROGRESS"]);
  });

  it("refuses a second upload of the same file while the first holds its hash; an abort frees it, a completion keeps it", async () => {
    const w = workflow();
    const withHash = { enableDuplicateCheck: true, fileHash };
    const first = await w.start.multipart(w.project, body(100, withHash));
    const duplicate = await refusal(w.start.multipart(w.project, body(100, withHash)));
    expect(duplicate).toMatchObject({ status: 409, codes: ["DUPLICATE_FILE"] });
    expect(duplicate.messages[0]).toContain(first.requestKey);
    await w.machine.abort(w.project, first.requestKey);
    const { requestKey, parts } = await readyUpload(w, 100, 1, withHash);
    await w.machine.complete(w.project, { requestKey, parts });
    expect(await w.storage.readJson(hashReservationKey("demo", fileHash))).toMatchObject({ requestKey });
    expect((await refusal(w.start.multipart(w.project, body(100, withHash)))).codes).toEqual(["DUPLICATE_FILE"]);
    // Without enableDuplicateCheck the hash is not looked at.
    await expect(w.start.multipart(w.project, body(100, { fileHash }))).resolves.toBeDefined();
  });

  it("keeps a project within maxOpenUploads, also against racing starts; an ended upload gives its place back", async () => {
    const w = workflow({ project: { maxOpenUploads: 3 } });
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => w.start.multipart(w.project, body())));
    const started = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    expect(started.length).toBeLessThanOrEqual(3);
    for (const r of results) {
      if (r.status === "rejected") expect(r.reason).toMatchObject({ problems: [{ code: "TOO_MANY_OPEN_UPLOADS" }] });
    }
    while ((await w.storage.listKeys(openSlotPrefix("demo"), { limit: 10 })).keys.length < 3) {
      started.push(await w.start.multipart(w.project, body()));
    }
    expect((await refusal(w.start.multipart(w.project, body()))).status).toBe(429);
    await w.machine.abort(w.project, started[0]!.requestKey);
    await expect(w.start.multipart(w.project, body())).resolves.toBeDefined();
  });

  it("keeps the client's metadata, or what a beforeStart hook chooses, and its object key", async () => {
    const w = workflow({
      hooks: {
        beforeStart: ({ body: start, requestKey }) =>
          start.fileName === "chosen.mp4"
            ? { objectKey: `media/${requestKey}.mp4`, metadata: { by: "hook" } }
            : undefined,
      },
    });
    const kept = await w.start.multipart(w.project, body(100, { metadata: { album: "x" } }));
    expect((await w.records.load("demo", kept.requestKey)).metadata).toEqual({ album: "x" });
    const chosen = await w.start.multipart(w.project, body(100, { fileName: "chosen.mp4", metadata: { album: "x" } }));
    const record = await w.records.load("demo", chosen.requestKey);
    expect(record).toMatchObject({ metadata: { by: "hook" }, objectKey: `media/${chosen.requestKey}.mp4` });
    expect(w.events[1]!.data.metadata).toEqual({ by: "hook" });
  });

  it("a start refused by its hook, or failing in the store, leaves no place, reservation, count or record behind", async () => {
    let failCreate = true;
    const w = workflow({
      project: { maxOpenUploads: 1 },
      hooks: {
        beforeStart: ({ body: start }) => {
          if (start.fileName === "refused.mp4") throw new UploadRefusedError({ code: "FORBIDDEN", message: "no" });
        },
      },
      wrap: (memory) =>
        new Proxy(memory, {
          get(target, name, receiver) {
            if (name === "createMultipartUpload" && failCreate) {
              return () => Promise.reject(new StorageError("unavailable", "down"));
            }
            const value: unknown = Reflect.get(target, name, receiver);
            return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        }),
    });
    const start = { ...body(100, { enableDuplicateCheck: true, fileHash }) };
    const refused = await refusal(w.start.multipart(w.project, { ...start, fileName: "refused.mp4" }));
    expect(refused).toMatchObject({ status: 403, codes: ["FORBIDDEN"] });
    await expect(w.start.multipart(w.project, start, "key-1", token({ maxUploads: 1 }))).rejects.toMatchObject({
      reason: "unavailable",
    });
    // Left: the released Idempotency-Key, the token's count (back to 0); nothing else.
    expect((await w.storage.listKeys("", { limit: 10 })).keys).toEqual([
      idempotencyEntryKey("demo", "key-1"),
      tokenUploadsKey("demo", "tok-1"),
    ]);
    expect(await w.storage.readJson(idempotencyEntryKey("demo", "key-1"))).toMatchObject({ released: true });
    expect(await w.storage.readJson(tokenUploadsKey("demo", "tok-1"))).toMatchObject({ started: 0 });
    failCreate = false;
    // The retry gets the place, the hash, the token's one upload and the key.
    const retried = await w.start.multipart(w.project, start, "key-1", token({ maxUploads: 1 }));
    expect(await w.storage.readJson(recordKey("demo", retried.requestKey))).toMatchObject({ state: "uploading" });
  });

  it("hands out no URL when the record's write fails (they are signed alongside it), and leaves nothing", async () => {
    let failRecord = true;
    const aborted: string[] = [];
    const w = workflow({
      project: { maxOpenUploads: 1 },
      wrap: (memory) =>
        new Proxy(memory, {
          get(target, name, receiver) {
            if (name === "writeJson" && failRecord) {
              return (key: string, value: unknown, options?: WriteConditions) =>
                key.startsWith(recordPrefix("demo"))
                  ? Promise.reject(new StorageError("unavailable", "down"))
                  : target.writeJson(key, value, options);
            }
            if (name === "abortMultipartUpload") {
              return (key: string, uploadId: string) => {
                aborted.push(uploadId);
                return target.abortMultipartUpload(key, uploadId);
              };
            }
            const value: unknown = Reflect.get(target, name, receiver);
            return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        }),
    });
    await expect(w.start.multipart(w.project, body(100))).rejects.toMatchObject({ reason: "unavailable" });
    expect(aborted).toHaveLength(1);
    expect(w.events).toEqual([]);
    expect((await w.storage.listKeys("", { limit: 10 })).keys).toEqual([]);
    failRecord = false;
    // The place was given back: the one upload the project may have in progress starts.
    const started = await w.start.multipart(w.project, body(100));
    expect(await w.storage.readJson(recordKey("demo", started.requestKey))).toMatchObject({ state: "uploading" });
  });
});
