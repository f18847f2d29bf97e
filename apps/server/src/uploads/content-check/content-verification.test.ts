import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RequestCounter } from "../../../test/support/counting-storage";
import { until } from "../../../test/support/until";
import { HOSTILE_FIXTURES, makeMediaFixtures } from "../../../test/support/media-fixtures";
import { body, openMarkerOf, refusal, token, workflow, type Workflow } from "../../../test/support/workflow";
import type { Project } from "../../auth/projects-file";
import { StorageError, type Storage } from "../../storage/storage.port";
import type { ContentScanner, ScanResult } from "../../verification/scanner";
import { DueIndex, dueKindPrefix } from "../../scheduling/due-index";
import { hashReservationKey, newRequestKey, quarantineKey, quarantineObjectKey } from "../upload-keys";
import { VERIFY_KIND } from "./content-verification";

let dir: string;
const fixture = (name: string) => readFileSync(join(dir, name));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "verify-workflow-"));
  makeMediaFixtures(dir);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const VIDEO_PROJECT: Partial<Project> = { allowedMimeTypes: ["video/*"] };

/** Starts a one-part multipart upload of `bytes` and stores its part; its request key and parts. */
async function stored(w: Workflow, bytes: Buffer, extra: Record<string, unknown> = {}) {
  const started = await w.start.multipart(w.project, body(bytes.length, extra));
  const record = await w.records.load(w.project.id, started.requestKey);
  const part = await w.storage.writePart(record.objectKey, record.uploadId, 1, Readable.from([bytes]), {
    expectedSize: bytes.length,
  });
  return { requestKey: started.requestKey, parts: [{ partNumber: 1, eTag: part.eTag }], objectKey: record.objectKey };
}

function sha256(bytes: Uint8Array | undefined): string {
  return createHash("sha256")
    .update(bytes ?? new Uint8Array(0))
    .digest("hex");
}

const JOBS_PREFIX = dueKindPrefix(VERIFY_KIND);

async function jobs(storage: Storage): Promise<string[]> {
  return (await storage.listKeys(JOBS_PREFIX, { limit: 100 })).keys;
}

/** A scanner whose verdicts the test gives, one scan at a time. */
function heldScanner(): ContentScanner & { release(result: ScanResult): void; scans: number } {
  const waiting: ((result: ScanResult) => void)[] = [];
  const scanner = {
    name: "held",
    scans: 0,
    scan: () => {
      scanner.scans++;
      return new Promise<ScanResult>((resolve) => waiting.push(resolve));
    },
    release: (result: ScanResult) => waiting.splice(0).forEach((resolve) => resolve(result)),
  };
  return scanner;
}

describe("content check: real media passes, with its facts", () => {
  it("complete verifies an MP4 (index at the end) before it answers; success hands out its URL and facts", async () => {
    const w = workflow({ project: { ...VIDEO_PROJECT, requireMedia: true, maxDurationSeconds: 60 } });
    const { requestKey, parts } = await stored(w, fixture("mp4-index-at-end.mp4"));
    await w.machine.complete(w.project, { requestKey, parts });
    const record = await w.records.load("demo", requestKey);
    expect(record.state).toBe("completed");
    expect(record.verification).toMatchObject({
      state: "passed",
      detectedMimeType: "video/mp4",
      media: { container: "mp4", width: 160, height: 120, videoCodec: "h264", audioCodec: "aac" },
    });
    const success = await w.machine.success(w.project, requestKey);
    expect(success.verification).toEqual(record.verification);
    expect(w.hooked).toEqual(["upload.started", "upload.completed", "upload.verified"]);
    const verified = w.events.find((e) => e.type === "upload.verified")!;
    expect(verified.data.verification).toEqual(record.verification);
    expect(verified.createdAt).toBe(record.verifiedAt);
    await w.verification.drain(); // the job is removed once the verdict is answered
    expect(await jobs(w.storage)).toEqual([]);
  });

  it("a project without type rules records the detected type of any bytes and passes them", async () => {
    const w = workflow();
    const { requestKey, parts } = await stored(w, Buffer.alloc(1000, 1));
    await w.machine.complete(w.project, { requestKey, parts });
    expect((await w.machine.success(w.project, requestKey)).verification).toEqual({
      state: "passed",
      detectedMimeType: "application/octet-stream",
    });
  });
});

describe("content check: hostile files declared video/mp4 are rejected, never downloadable", () => {
  // The empty file cannot be uploaded at all (contentLength is at least 1); the policy's tests judge it.
  it.each(HOSTILE_FIXTURES.filter((name) => name !== "empty.mp4"))("%s", async (name) => {
    const w = workflow({ project: VIDEO_PROJECT });
    const fileHash = createHash("sha256").update(name).digest("hex");
    const { requestKey, parts, objectKey } = await stored(w, fixture(name), { enableDuplicateCheck: true, fileHash });
    const rejected = await refusal(w.machine.complete(w.project, { requestKey, parts }));
    expect(rejected).toMatchObject({ status: 422, codes: ["CONTENT_REJECTED"] });
    expect(rejected.messages[0]).toMatch(/^(TYPE_MISMATCH|SUSPICIOUS_CONTENT|NOT_MEDIA): declared video\/mp4, found /);
    const record = await w.records.load("demo", requestKey);
    expect(record.state).toBe("rejected");
    expect(record.verification).toMatchObject({ state: "failed" });
    // Nothing of it stays: no object, no reservation, no open place; success and a retried complete say why.
    expect(await w.storage.objectSize(objectKey)).toBeUndefined();
    expect(await w.storage.readJson(hashReservationKey("demo", fileHash))).toBeUndefined();
    expect(await openMarkerOf(w.storage, "demo", requestKey)).toBeUndefined();
    expect(await refusal(w.machine.success(w.project, requestKey))).toMatchObject({ codes: ["CONTENT_REJECTED"] });
    expect(await refusal(w.machine.complete(w.project, { requestKey, parts }))).toMatchObject({
      codes: ["CONTENT_REJECTED"],
    });
    expect(w.hooked).toEqual(["upload.started", "upload.completed", "upload.rejected"]);
    expect(w.events.filter((e) => e.type === "upload.rejected")).toHaveLength(1);
    await w.verification.drain(); // the job is removed once the verdict is answered
    expect(await jobs(w.storage)).toEqual([]);
  });

  it("names what was declared and what was found", async () => {
    const w = workflow({ project: VIDEO_PROJECT });
    const { requestKey, parts } = await stored(w, fixture("page.html"));
    const rejected = await refusal(w.machine.complete(w.project, { requestKey, parts }));
    expect(rejected.messages).toEqual(["TYPE_MISMATCH: declared video/mp4, found an HTML page (text/html)"]);
  });

  it("a quarantine project moves the object off its key, under its quarantine prefix, and lists it", async () => {
    const w = workflow({ project: { ...VIDEO_PROJECT, quarantine: true } });
    const bytes = fixture("program.elf");
    const { requestKey, parts, objectKey } = await stored(w, bytes);
    await refusal(w.machine.complete(w.project, { requestKey, parts }));
    const kept = quarantineObjectKey("demo", requestKey);
    expect(kept).toBe(`projects/demo/quarantine/${requestKey}/object`);
    // Nothing at its key (where anything presigning it would reach it); the same bytes, whole, under quarantine.
    expect(await w.storage.objectSize(objectKey)).toBeUndefined();
    expect(sha256(await w.storage.readObjectRange(kept, 0, bytes.length))).toBe(sha256(bytes));
    expect(await w.storage.readJson(quarantineKey("demo", requestKey))).toMatchObject({
      objectKey: kept,
      movedFrom: objectKey,
      contentLength: bytes.length,
      verification: { code: "TYPE_MISMATCH" },
    });
    expect(await refusal(w.machine.success(w.project, requestKey))).toMatchObject({ codes: ["CONTENT_REJECTED"] });
    expect(await jobs(w.storage)).toEqual([]);
  });

  it("a quarantine move the store fails is retried, never leaving the object at its key", async () => {
    let failing = true;
    const w = workflow({
      project: { ...VIDEO_PROJECT, quarantine: true },
      wrap: (memory) =>
        new Proxy(memory, {
          get(target, name, receiver) {
            if (name === "moveObject" && failing) {
              return () => Promise.reject(new StorageError("unavailable", "the store is down"));
            }
            const value: unknown = Reflect.get(target, name, receiver);
            return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        }),
    });
    const bytes = fixture("page.html");
    const { requestKey, parts, objectKey } = await stored(w, bytes);
    expect(await refusal(w.machine.complete(w.project, { requestKey, parts }))).toMatchObject({
      codes: ["CONTENT_REJECTED"],
    });
    // Rejected (never served), the move still to do: the job stays (rescheduled: for a moment its old entry and its
    // new one), the object stays at its key, and nothing is listed as kept.
    await until("the failed move rescheduled", async () => (await jobs(w.storage)).length === 1, 5_000);
    expect(await w.storage.objectSize(objectKey)).toBe(bytes.length);
    expect(await w.storage.readJson(quarantineKey("demo", requestKey))).toBeUndefined();
    failing = false;
    // The next run moves it: the retry this process scheduled, or a poll of any replica once it is due.
    await until("the move retried", async () => {
      await w.verification.worker.poll();
      return (await jobs(w.storage)).length === 0;
    });
    expect(await w.storage.objectSize(objectKey)).toBeUndefined();
    const kept = quarantineObjectKey("demo", requestKey);
    expect(sha256(await w.storage.readObjectRange(kept, 0, bytes.length))).toBe(sha256(bytes));
    expect(await w.storage.readJson(quarantineKey("demo", requestKey))).toMatchObject({ objectKey: kept });
    expect(await jobs(w.storage)).toEqual([]);
    expect(w.hooked.filter((e) => e === "upload.rejected")).toHaveLength(1);
  });

  it("a single PUT is checked at success", async () => {
    const w = workflow({ project: VIDEO_PROJECT });
    const bytes = fixture("script.svg");
    const started = await w.start.singlePut(w.project, body(bytes.length));
    const record = await w.records.load("demo", started.requestKey);
    await w.storage.writeObject(record.objectKey, Readable.from([bytes]), {
      expectedSize: bytes.length,
      contentType: "video/mp4",
    });
    const rejected = await refusal(w.machine.success(w.project, started.requestKey));
    expect(rejected).toMatchObject({ status: 422, codes: ["CONTENT_REJECTED"] });
    expect(rejected.messages[0]).toContain("found an SVG image (image/svg+xml)");
    expect(await w.storage.objectSize(record.objectKey)).toBeUndefined();
  });
});

describe("content check: the rules of the start", () => {
  it("an upload token's requireMedia and maxDurationSeconds judge the stored bytes", async () => {
    const w = workflow();
    const strict = token({ requireMedia: true, maxDurationSeconds: 1 });
    const send = async (bytes: Buffer) => {
      const started = await w.start.multipart(w.project, body(bytes.length), undefined, strict);
      const record = await w.records.load("demo", started.requestKey);
      const part = await w.storage.writePart(record.objectKey, record.uploadId, 1, Readable.from([bytes]), {
        expectedSize: bytes.length,
      });
      const parts = [{ partNumber: 1, eTag: part.eTag }];
      return refusal(w.machine.complete(w.project, { requestKey: started.requestKey, parts }));
    };
    expect((await send(Buffer.alloc(500, 1))).messages[0]).toMatch(/^TYPE_MISMATCH: /);
    expect((await send(fixture("mp4-index-at-start.mp4"))).messages[0]).toMatch(
      /^DURATION_TOO_LONG: the media lasts 2(\.\d)? s, longer than the 1 s allowed$/,
    );
  });

  it("an upload completed before the check existed is checked at its next success", async () => {
    const w = workflow();
    const { requestKey, parts } = await stored(w, Buffer.alloc(100, 1));
    await w.machine.complete(w.project, { requestKey, parts });
    const { verification: _dropped, verifiedAt: _at, ...legacy } = await w.records.load("demo", requestKey);
    await w.records.update(legacy, () => legacy);
    expect((await w.records.load("demo", requestKey)).verification).toBeUndefined();
    expect((await w.machine.success(w.project, requestKey)).verification.state).toBe("passed");
  });
});

describe("content check: whole-file hash (verifyFileHash)", () => {
  it("passes the start's SHA-256 and records it; refuses another one and releases its reservation", async () => {
    const w = workflow({ project: { verifyFileHash: true } });
    const bytes = Buffer.alloc(3000, 7);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const good = await stored(w, bytes, { enableDuplicateCheck: true, fileHash: sha256 });
    await w.machine.complete(w.project, good);
    expect((await w.machine.success(w.project, good.requestKey)).verification).toMatchObject({ sha256 });

    const lie = "0".repeat(64);
    const bad = await stored(w, Buffer.alloc(3000, 8), { enableDuplicateCheck: true, fileHash: lie });
    const rejected = await refusal(w.machine.complete(w.project, bad));
    expect(rejected.messages[0]).toMatch(/^HASH_MISMATCH: /);
    expect(await w.storage.readJson(hashReservationKey("demo", lie))).toBeUndefined();
  });
});

describe("content check: what it costs", () => {
  it("complete to verdict: one read of the record, and the place given back alongside the check", async () => {
    const counter = new RequestCounter();
    const w = workflow({ wrap: (memory) => counter.wrap(memory) });
    const { requestKey, parts } = await stored(w, Buffer.alloc(100, 1));
    counter.reset();
    await w.machine.complete(w.project, { requestKey, parts });
    await w.verification.drain();
    const requests = counter.byMethod();
    const inSequence = counter.inSequence;
    expect((await w.records.load("demo", requestKey)).verification?.state).toBe("passed");
    expect(requests).toEqual({
      readDocument: 1, // the record, once: each later compare-and-swap starts from the version the last one wrote
      listParts: 1,
      completeMultipartUpload: 1,
      writeJson: 4, // the record completing, the check's entry (its claim too), the record completed, the verdict
      readObjectRange: 1,
      readJson: 1, // the open place, given back
      deleteObject: 2, // the open place, the check's entry
    });
    // The record, the parts, completing, the object; then the entry ∥ the place, the record ∥ its deletion, the
    // bytes, the verdict, and the entry's removal.
    expect(inSequence).toBe(9);
  });
});

describe("content check: durable, once, anywhere", () => {
  it("waits a bounded time: complete answers, success says VERIFICATION_PENDING until the verdict", async () => {
    const scanner = heldScanner();
    const w = workflow({ scanners: [scanner], verification: { waitMs: 50 } });
    const { requestKey, parts } = await stored(w, Buffer.alloc(100, 1));
    await w.machine.complete(w.project, { requestKey, parts });
    expect((await w.records.load("demo", requestKey)).verification).toEqual({
      state: "pending",
      detectedMimeType: null,
    });
    const pending = await refusal(w.machine.success(w.project, requestKey));
    expect(pending).toMatchObject({ status: 409, codes: ["VERIFICATION_PENDING"] });
    scanner.release({ verdict: "clean" });
    await w.verification.drain();
    expect((await w.machine.success(w.project, requestKey)).verification.state).toBe("passed");
  });

  it("a scanner's infected verdict rejects; its error is retried, never a pass", async () => {
    const verdicts: ScanResult[] = [
      { verdict: "error", message: "clamd is down" },
      { verdict: "infected", signature: "Eicar-Signature" },
    ];
    const scanner: ContentScanner = { name: "clamav", scan: () => Promise.resolve(verdicts.shift()!) };
    const w = workflow({ scanners: [scanner] });
    const { requestKey, parts } = await stored(w, Buffer.alloc(100, 1));
    await w.machine.complete(w.project, { requestKey, parts });
    expect((await w.records.load("demo", requestKey)).verification?.state).toBe("pending");
    await new Promise((resolve) => setTimeout(resolve, 150)); // the retry's backoff (50–100 ms here)
    expect(await w.verification.worker.poll()).toBe(1);
    expect(await refusal(w.machine.success(w.project, requestKey))).toMatchObject({ codes: ["CONTENT_REJECTED"] });
    expect((await w.records.load("demo", requestKey)).verification).toMatchObject({
      code: "MALWARE_FOUND",
      reason: "clamav found Eicar-Signature",
    });
  });

  it("three replicas on one store: a replica dies mid-check, one other takes the job over, one event", async () => {
    const held = heldScanner();
    const a = workflow({ scanners: [held], verification: { waitMs: 20, leaseMs: 300 } });
    const clean: ContentScanner = { name: "ok", scan: () => Promise.resolve({ verdict: "clean" }) };
    const b = workflow({ sharing: a, scanners: [clean], verification: { leaseMs: 300 } });
    const c = workflow({ sharing: a, scanners: [clean], verification: { leaseMs: 300 } });
    const { requestKey, parts } = await stored(a, fixture("mp4-index-at-start.mp4"));
    await a.machine.complete(a.project, { requestKey, parts }); // A claims the job and hangs in its scanner: "dies"
    expect(held.scans).toBe(1);
    // While A's lease holds, nobody else runs it.
    await Promise.all([b.verification.worker.poll(), c.verification.worker.poll()]);
    expect((await a.records.load("demo", requestKey)).verification?.state).toBe("pending");
    await new Promise((resolve) => setTimeout(resolve, 350));
    await Promise.all([b.verification.worker.poll(), c.verification.worker.poll(), b.verification.worker.poll()]);
    const record = await a.records.load("demo", requestKey);
    expect(record.verification).toMatchObject({ state: "passed", detectedMimeType: "video/mp4" });
    // A wakes up and finishes: the record's compare-and-swap finds it decided, so no second event.
    held.release({ verdict: "clean" });
    await a.verification.drain();
    const verified = [a, b, c].flatMap((w) => w.hooked.filter((e) => e === "upload.verified"));
    expect(verified).toEqual(["upload.verified"]);
    expect(await jobs(a.storage)).toEqual([]);
  });

  it("a store outage mid-check is retried with backoff and never passes", async () => {
    let failing = true;
    const w = workflow({
      wrap: (memory) =>
        new Proxy(memory, {
          get(target, name, receiver) {
            if (name === "readObjectRange" && failing) {
              return () => Promise.reject(new StorageError("unavailable", "the store is down"));
            }
            const value: unknown = Reflect.get(target, name, receiver);
            return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        }),
      verification: { waitMs: 100 },
    });
    const { requestKey, parts } = await stored(w, fixture("mp4-index-at-start.mp4"));
    await w.machine.complete(w.project, { requestKey, parts });
    await new Promise((resolve) => setTimeout(resolve, 120));
    await w.verification.worker.poll(); // fails again: rescheduled
    expect((await w.records.load("demo", requestKey)).verification?.state).toBe("pending");
    expect(await refusal(w.machine.success(w.project, requestKey))).toMatchObject({ codes: ["VERIFICATION_PENDING"] });
    expect(await jobs(w.storage)).toHaveLength(1);
    failing = false;
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await w.verification.worker.poll()).toBe(1);
    expect((await w.machine.success(w.project, requestKey)).verification.state).toBe("passed");
    expect(w.hooked.filter((e) => e === "upload.verified")).toHaveLength(1);
  });

  it("this process's poller looking at the job meanwhile does not keep complete from its verdict", async () => {
    let poll: Promise<unknown> = Promise.resolve();
    const w: Workflow = workflow({
      project: VIDEO_PROJECT,
      wrap: (memory) =>
        new Proxy(memory, {
          get(target, name, receiver) {
            const value: unknown = Reflect.get(target, name, receiver);
            if (name === "readDocument") {
              // The poller's claim reads the job slowly: it is still at it when the completion's own run begins.
              return async (key: string) => {
                if (key.startsWith(JOBS_PREFIX)) await new Promise((resolve) => setTimeout(resolve, 50));
                return target.readDocument(key);
              };
            }
            if (name !== "writeJson") return typeof value === "function" ? value.bind(target) : value;
            return async (key: string, ...rest: unknown[]) => {
              const written = await (value as (...a: unknown[]) => Promise<boolean>).call(target, key, ...rest);
              // The poller's pass starts the moment the job is in the store, before the completion's own run.
              if (key.startsWith(JOBS_PREFIX)) poll = w.verification.worker.poll();
              return written;
            };
          },
        }),
    });
    for (let i = 0; i < 5; i++) {
      const { requestKey, parts } = await stored(w, fixture("page.html"));
      expect(await refusal(w.machine.complete(w.project, { requestKey, parts }))).toMatchObject({
        codes: ["CONTENT_REJECTED"],
      });
      await poll;
    }
  });

  it("finds due jobs of every project with one listing", async () => {
    let listings = 0;
    const w = workflow({
      wrap: (memory) =>
        new Proxy(memory, {
          get(target, name, receiver) {
            if (name === "listKeys") listings++;
            const value: unknown = Reflect.get(target, name, receiver);
            return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        }),
    });
    const index = new DueIndex(w.storage);
    const schedule = (projectId: string, dueAt: number) => {
      const job = { projectId, requestKey: newRequestKey(), firstAddedAt: Date.now() };
      return index.schedule(VERIFY_KIND, `${projectId}:${job.requestKey}`, dueAt, job);
    };
    for (let i = 0; i < 20; i++) await schedule(`project-${i}`, Date.now());
    await schedule("later", Date.now() + 60_000);
    listings = 0;
    expect(await w.verification.worker.poll()).toBe(20); // uploads that no longer exist: their jobs are dropped
    expect(listings).toBe(1);
    expect(await jobs(w.storage)).toHaveLength(1); // the one due later
  });
});
