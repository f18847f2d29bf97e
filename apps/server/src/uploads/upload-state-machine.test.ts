import { describe, expect, it } from "vitest";
import { Readable } from "node:stream";
import {
  body,
  MiB,
  openMarkerOf,
  readyUpload,
  refusal,
  storePart,
  workflow,
  type Workflow,
} from "../../test/support/workflow";
import { contentDisposition, hashReservationKey, recordKey } from "./upload-keys";
import { phaseOf } from "./upload-record";

const fileHash = `sha256:${"cd".repeat(32)}`;

async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function openMarker(w: Workflow, requestKey: string) {
  return openMarkerOf(w.storage, "demo", requestKey);
}

describe("UploadStateMachine: complete", () => {
  it("assembles the parts, records the upload completed, reports it once, gives back its place and keeps its hash", async () => {
    const w = workflow();
    const size = 5 * MiB + 100;
    const { requestKey, parts } = await readyUpload(w, size, 2, { enableDuplicateCheck: true, fileHash });
    // Listed in any order, eTags quoted or not.
    const listed = [{ ...parts[1]!, eTag: parts[1]!.eTag.replaceAll('"', "") }, parts[0]!];
    await expect(w.machine.complete(w.project, { requestKey, parts: listed })).resolves.toBe(true);
    const record = await w.records.load("demo", requestKey);
    expect(record).toMatchObject({ state: "completed", completedAt: expect.any(String) });
    expect(await w.storage.objectSize(record.objectKey)).toBe(size);
    expect(w.hooked).toEqual(["upload.started", "upload.completed", "upload.verified"]);
    expect(await openMarker(w, requestKey)).toBeUndefined();
    expect(await w.storage.readJson(hashReservationKey("demo", fileHash))).toMatchObject({ requestKey });
  });

  it("refuses parts that do not make the plan: missing, twice, beyond it, unstored, another eTag, another size", async () => {
    const w = workflow();
    const { requestKey, parts } = await readyUpload(w, 5 * MiB + 100, 2);
    const [one, two] = parts as [{ partNumber: number; eTag: string }, { partNumber: number; eTag: string }];
    const cases = [
      { parts: [one], codes: ["VALIDATION_FAILED"] },
      { parts: [one, two, one], codes: ["VALIDATION_FAILED"] },
      { parts: [one, two, { partNumber: 3, eTag: two.eTag }], codes: ["VALIDATION_FAILED"] },
      { parts: [one, { ...two, eTag: "0".repeat(32) }], codes: ["INVALID_PART"] },
    ];
    for (const { parts: listed, codes } of cases) {
      const refused = await refusal(w.machine.complete(w.project, { requestKey, parts: listed }));
      expect(refused.codes, JSON.stringify(listed)).toEqual(codes);
    }
    // A part stored with a size other than the plan's (a store that did not bind it) is refused too.
    const record = await w.records.load("demo", requestKey);
    const wrong = await w.storage.writePart(record.objectKey, record.uploadId, 2, Readable.from([Buffer.alloc(99)]), {
      expectedSize: 99,
    });
    const wrongSize = [one, { partNumber: 2, eTag: wrong.eTag }];
    const mismatch = await refusal(w.machine.complete(w.project, { requestKey, parts: wrongSize }));
    expect(mismatch).toMatchObject({ status: 400, codes: ["PART_SIZE_MISMATCH"] });
    // None of them changed the upload: with the right parts it completes.
    expect(phaseOf(await w.records.load("demo", requestKey))).toBe("uploading");
    await storePart(w, requestKey, 2, 100);
    await expect(w.machine.complete(w.project, { requestKey, parts })).resolves.toBe(true);
  });

  it("a part missing from the store is INVALID_PART", async () => {
    const w = workflow();
    const started = await w.start.multipart(w.project, { ...body(5 * MiB + 1), partsNumber: 2 });
    const eTag = await storePart(w, started.requestKey, 1, 5 * MiB);
    const refused = await refusal(
      w.machine.complete(w.project, {
        requestKey: started.requestKey,
        parts: [
          { partNumber: 1, eTag },
          { partNumber: 2, eTag },
        ],
      }),
    );
    expect(refused.codes).toEqual(["INVALID_PART"]);
    expect(refused.messages[0]).toContain("part 2 is not stored");
  });

  it("sent again after a lost reply: the same parts answer true without a second event's hook; other parts 409", async () => {
    const w = workflow();
    const { requestKey, parts } = await readyUpload(w, 1000);
    await w.machine.complete(w.project, { requestKey, parts });
    await expect(w.machine.complete(w.project, { requestKey, parts })).resolves.toBe(true);
    expect(w.hooked.filter((e) => e === "upload.completed")).toHaveLength(1);
    // The event is recorded again (idempotently, by its id), so a process dying before recording it loses nothing.
    const completed = w.events.filter((e) => e.type === "upload.completed");
    expect(completed).toHaveLength(2);
    expect(completed[0]!.id).toBe(completed[1]!.id);
    const otherParts = [{ partNumber: 1, eTag: "f".repeat(32) }];
    const other = await refusal(w.machine.complete(w.project, { requestKey, parts: otherParts }));
    expect(other).toMatchObject({ status: 409, codes: ["UPLOAD_NOT_IN_PROGRESS"] });
  });

  it("sent again after its place went to another start, leaves that start's place alone", async () => {
    const w = workflow({ project: { maxOpenUploads: 1 } });
    const { requestKey, parts } = await readyUpload(w, 1000);
    await w.machine.complete(w.project, { requestKey, parts });
    const next = await w.start.multipart(w.project, { ...body(1000), partsNumber: 1 });
    await expect(w.machine.complete(w.project, { requestKey, parts })).resolves.toBe(true);
    expect(await openMarkerOf(w.storage, w.project.id, next.requestKey)).toBeDefined();
    const third = await refusal(w.start.multipart(w.project, { ...body(1000), partsNumber: 1 }));
    expect(third).toMatchObject({ status: 429, codes: ["TOO_MANY_OPEN_UPLOADS"] });
  });

  it("of concurrent completes with the same parts, every one answers true and one reports the completion", async () => {
    const w = workflow();
    const { requestKey, parts } = await readyUpload(w, 1000);
    const complete = () => w.machine.complete(w.project, { requestKey, parts });
    const answers = await Promise.all(Array.from({ length: 5 }, complete));
    expect(answers).toEqual([true, true, true, true, true]);
    expect(w.hooked.filter((e) => e === "upload.completed")).toHaveLength(1);
  });

  it("when the store refuses the checked parts, the upload is open again and can be completed later", async () => {
    // A store whose smallest part is larger than the plan's: it refuses what the workflow found fine.
    const w = workflow({ store: { minPartSize: 6 * MiB } });
    const { requestKey, parts } = await readyUpload(w, 5 * MiB + 100, 2);
    const completing = w.machine.complete(w.project, { requestKey, parts });
    await expect(completing).rejects.toMatchObject({ reason: "part-too-small" });
    const record = await w.records.load("demo", requestKey);
    expect(record.completion).toBeUndefined();
    expect(phaseOf(record)).toBe("uploading");
    await expect(w.machine.abort(w.project, requestKey)).resolves.toBe(true);
  });

  it("refuses a single-PUT upload: it completes by success", async () => {
    const w = workflow();
    const started = await w.start.singlePut(w.project, body(10));
    const parts = [{ partNumber: 1, eTag: "a" }];
    const refused = await refusal(w.machine.complete(w.project, { requestKey: started.requestKey, parts }));
    expect(refused.codes).toEqual(["NOT_A_MULTIPART_UPLOAD"]);
  });
});

describe("UploadStateMachine: abort", () => {
  it("discards the store's upload, releases the hash and the place; sent again it answers true; then nothing completes it", async () => {
    const w = workflow();
    const { requestKey, parts } = await readyUpload(w, 1000, 1, { enableDuplicateCheck: true, fileHash });
    const record = await w.records.load("demo", requestKey);
    await expect(w.machine.abort(w.project, requestKey)).resolves.toBe(true);
    expect(await w.records.load("demo", requestKey)).toMatchObject({ state: "aborted", abortedBy: "client" });
    const listing = w.storage.listParts(record.objectKey, record.uploadId);
    await expect(listing).rejects.toMatchObject({ reason: "upload-not-found" });
    expect(await w.storage.readJson(hashReservationKey("demo", fileHash))).toBeUndefined();
    expect(await openMarker(w, requestKey)).toBeUndefined();
    await expect(w.machine.abort(w.project, requestKey)).resolves.toBe(true);
    expect(w.hooked).toEqual(["upload.started", "upload.aborted"]);
    const late = await refusal(w.machine.complete(w.project, { requestKey, parts }));
    expect(late.codes).toEqual(["UPLOAD_NOT_IN_PROGRESS"]);
    expect((await refusal(w.machine.resume(w.project, requestKey, 1))).codes).toEqual(["UPLOAD_NOT_IN_PROGRESS"]);
  });

  it("refuses to abort a completed upload, and answers 404 for an unknown one", async () => {
    const w = workflow();
    const { requestKey, parts } = await readyUpload(w, 1000);
    await w.machine.complete(w.project, { requestKey, parts });
    expect((await refusal(w.machine.abort(w.project, requestKey))).codes).toEqual(["UPLOAD_NOT_IN_PROGRESS"]);
    expect((await refusal(w.machine.abort(w.project, "not-a-request-key"))).codes).toEqual(["UPLOAD_NOT_FOUND"]);
  });

  it("complete ∥ abort, at every offset: exactly one wins, the other gets 409, and the final state and events follow the winner", async () => {
    for (let round = 0; round < 12; round++) {
      const w = workflow();
      const { requestKey, parts } = await readyUpload(w, 1000, 1, { enableDuplicateCheck: true, fileHash });
      // Every offset of the second request against the first's steps (each store call is one turn of the loop).
      const first = round % 2 === 0 ? "complete" : "abort";
      const send = (which: string) =>
        which === "complete"
          ? w.machine.complete(w.project, { requestKey, parts })
          : w.machine.abort(w.project, requestKey);
      const outcomes = await Promise.allSettled([
        send(first),
        turns(Math.floor(round / 2)).then(() => send(first === "complete" ? "abort" : "complete")),
      ]);
      const won = outcomes.filter((o) => o.status === "fulfilled");
      expect(won).toHaveLength(1);
      const lost = outcomes.find((o) => o.status === "rejected") as PromiseRejectedResult;
      expect(lost.reason).toMatchObject({ problems: [{ code: "UPLOAD_NOT_IN_PROGRESS" }] });
      const record = await w.records.load("demo", requestKey);
      const winner = w.hooked.filter((e) => e !== "upload.started");
      expect(winner).toEqual(
        record.state === "completed" ? ["upload.completed", "upload.verified"] : ["upload.aborted"],
      );
      expect(await w.storage.objectSize(record.objectKey)).toBe(record.state === "completed" ? 1000 : undefined);
      expect(await w.storage.readJson(hashReservationKey("demo", fileHash))).toEqual(
        record.state === "completed" ? expect.objectContaining({ requestKey }) : undefined,
      );
      expect(await openMarker(w, requestKey)).toBeUndefined();
    }
  });
});

describe("UploadStateMachine: resume", () => {
  it("signs URLs for the parts still missing and lists the usable ones (not a part of the wrong size)", async () => {
    const w = workflow();
    const started = await w.start.multipart(w.project, { ...body(12 * MiB), partsNumber: 3 });
    const eTag = await storePart(w, started.requestKey, 1, 5 * MiB);
    await storePart(w, started.requestKey, 3, 1000); // not the plan's 2 MiB: it must be sent again
    const resumed = await w.machine.resume(w.project, started.requestKey, 48);
    expect(resumed.uploadedParts).toEqual([{ partNumber: 1, eTag, size: 5 * MiB }]);
    expect(resumed.presignedUrl.map((p) => p.partNumber)).toEqual([2, 3]);
    const record = await w.records.load("demo", started.requestKey);
    // URLs valid longer than the start's (24 h) push back when the expiry sweep may abort it; shorter ones do not.
    expect(record.urlsExpireAt).toBe(resumed.expiresAt);
    await w.machine.resume(w.project, started.requestKey, 1);
    expect((await w.records.load("demo", started.requestKey)).urlsExpireAt).toBe(resumed.expiresAt);
  });

  it("refuses a completed upload and a single-PUT one", async () => {
    const w = workflow();
    const { requestKey, parts } = await readyUpload(w, 1000);
    await w.machine.complete(w.project, { requestKey, parts });
    expect((await refusal(w.machine.resume(w.project, requestKey, 1))).codes).toEqual(["UPLOAD_NOT_IN_PROGRESS"]);
    const single = await w.start.singlePut(w.project, body(10));
    const refused = await refusal(w.machine.resume(w.project, single.requestKey, 1));
    expect(refused.codes).toEqual(["NOT_A_MULTIPART_UPLOAD"]);
  });
});

describe("UploadStateMachine: success", () => {
  it("answers a completed upload's download URL, and 409 before it is completed", async () => {
    const w = workflow();
    const { requestKey, parts } = await readyUpload(w, 1000);
    expect((await refusal(w.machine.success(w.project, requestKey))).codes).toEqual(["UPLOAD_NOT_COMPLETED"]);
    await w.machine.complete(w.project, { requestKey, parts });
    const { downloadPath } = await w.machine.success(w.project, requestKey);
    expect(new URL(downloadPath).pathname).toBe(`/storage/objects/projects/demo/files/${requestKey}`);
  });

  it("completes a single-PUT upload once its object is stored whole; reports it once; an abort then loses", async () => {
    const w = workflow();
    const started = await w.start.singlePut(w.project, body(10));
    const early = await refusal(w.machine.success(w.project, started.requestKey));
    expect(early).toMatchObject({ status: 409, codes: ["UPLOAD_NOT_COMPLETED"] });
    expect(early.messages[0]).toContain("has not been stored yet");
    const record = await w.records.load("demo", started.requestKey);
    const bytes = Readable.from([Buffer.alloc(10)]);
    await w.storage.writeObject(record.objectKey, bytes, { expectedSize: 10, contentType: "video/mp4" });
    const success = () => w.machine.success(w.project, started.requestKey);
    const answers = await Promise.all([success(), success()]);
    // A single PUT stores no name: the download URL gives it.
    const named = answers.map((a) => new URL(a.downloadPath).searchParams.get("disposition"));
    expect(named).toEqual([contentDisposition("clip.mp4"), contentDisposition("clip.mp4")]);
    expect(w.hooked).toEqual(["upload.started", "upload.completed", "upload.verified"]);
    expect((await refusal(w.machine.abort(w.project, started.requestKey))).codes).toEqual(["UPLOAD_NOT_IN_PROGRESS"]);
  });
});

describe("UploadStateMachine: expire", () => {
  it("aborts an upload whose URLs expired longer ago than the grace, once; not one still in time", async () => {
    const w = workflow();
    const fresh = await w.start.multipart(w.project, { ...body(), presignedUrlExpiryTimeHours: 1 });
    expect(await w.machine.expire("demo", fresh.requestKey, 0)).toBe(false);
    const record = await w.records.load("demo", fresh.requestKey);
    await w.storage.writeJson(recordKey("demo", fresh.requestKey), {
      ...record,
      urlsExpireAt: new Date(Date.now() - 10_000).toISOString(),
    });
    expect(await w.records.load("demo", fresh.requestKey)).toMatchObject({ state: "uploading" });
    expect(await w.machine.expire("demo", fresh.requestKey, 60)).toBe(false); // within the grace
    const sweep = () => w.machine.expire("demo", fresh.requestKey, 0);
    const sweeps = await Promise.all([sweep(), sweep()]);
    expect(sweeps.filter(Boolean)).toHaveLength(1);
    expect(await w.records.load("demo", fresh.requestKey)).toMatchObject({ state: "aborted", abortedBy: "expiry" });
    expect(w.hooked).toEqual(["upload.started", "upload.expired"]);
    // A client's abort sent after it is answered as done, with the expiry's event.
    await expect(w.machine.abort(w.project, fresh.requestKey)).resolves.toBe(true);
    expect(w.events.at(-1)!.type).toBe("upload.expired");
  });
});
