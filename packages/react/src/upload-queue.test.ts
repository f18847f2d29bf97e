import {
  ContentRejectedError,
  UploadAbortedError,
  UploadFailedError,
  type ApiClient,
  type UploadOptions,
  type UploadResult,
  type UploadTask,
} from "@upload-gateway/client";
import { describe, expect, it, vi } from "vitest";
import { PendingUploads, type KeyValueStore } from "./pending-uploads";
import { partSizeFor, UploadQueue } from "./upload-queue";

const MiB = 1024 * 1024;

/** An upload that the test drives by hand: it starts, reports parts, and settles when told. */
interface FakeRun {
  file: File;
  options: UploadOptions;
  paused: boolean;
  succeed(partsSent?: number, verification?: UploadResult["verification"]): void;
  fail(error: unknown): void;
}

function harness(options: { maxActive?: number } = {}) {
  const data = new Map<string, string>();
  const store: KeyValueStore = { getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
  const pending = new PendingUploads(store);
  const runs: FakeRun[] = [];
  const abort = vi.fn(() => Promise.resolve(true as const));
  const settled: string[] = [];
  const startUpload = (file: File, opts: UploadOptions): UploadTask => {
    let resolve!: (r: UploadResult) => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<UploadResult>((res, rej) => ((resolve = res), (reject = rej)));
    const run: FakeRun = {
      file,
      options: opts,
      paused: false,
      succeed: (partsSent = 2, verification) =>
        resolve({
          ...(verification ? { verification } : {}),
          requestKey: opts.requestKey ?? "k",
          uploadId: "u",
          size: file.size,
          partsNumber: 2,
          partSize: 5 * MiB,
          fileName: file.name,
          mimeType: "",
          partsSent,
        }),
      fail: reject,
    };
    // Like the real uploader: a cancel rejects with UploadAbortedError once the gateway was told.
    opts.signal?.addEventListener("abort", () => reject(new UploadAbortedError(opts.requestKey ?? "k")));
    runs.push(run);
    return {
      requestKey: undefined,
      done,
      get paused() {
        return run.paused;
      },
      pause: () => void (run.paused = true),
      resume: () => void (run.paused = false),
      then: (a, b) => done.then(a, b),
    };
  };
  const queue = new UploadQueue({
    projectId: "demo",
    client: { abort } as unknown as ApiClient,
    pending,
    startUpload,
    maxActive: options.maxActive,
    onSettled: (item) => settled.push(`${item.file.name}:${item.status}`),
  });
  return { queue, pending, runs, abort, settled };
}

const file = (name: string, size = 6 * MiB) =>
  new File([new Uint8Array(size)], name, { lastModified: 1_700_000_000_000 });
const settle = () => new Promise((r) => setTimeout(r, 0));
const statuses = (queue: UploadQueue) => queue.getSnapshot().map((i) => i.status);

describe("UploadQueue", () => {
  it("uploads two files at once and starts the next when one is done", async () => {
    const { queue, runs, settled } = harness();
    queue.add([file("a"), file("b"), file("c")]);
    expect(runs.map((r) => r.file.name)).toEqual(["a", "b"]);
    expect(statuses(queue)).toEqual(["uploading", "uploading", "queued"]);
    runs[0]!.succeed();
    await settle();
    expect(runs.map((r) => r.file.name)).toEqual(["a", "b", "c"]);
    expect(statuses(queue)).toEqual(["completed", "uploading", "uploading"]);
    expect(settled).toEqual(["a:completed"]);
  });

  it("refuses an empty file with a sentence, without calling the gateway", () => {
    const { queue, runs } = harness();
    queue.add([file("empty.txt", 0)]);
    expect(runs).toEqual([]);
    expect(queue.getSnapshot()[0]).toMatchObject({
      status: "failed",
      error: "“empty.txt” is empty: there is nothing to upload.",
    });
  });

  it("remembers a started upload until it completes, and continues it when the same file is added again", async () => {
    const { queue, pending, runs } = harness();
    const movie = file("movie.mp4");
    queue.add([movie]);
    runs[0]!.options.onStart?.({ requestKey: "k1", uploadId: "u1", partsTotal: 2, partSize: 5 * MiB });
    expect(pending.list("demo")).toMatchObject([
      { requestKey: "k1", name: "movie.mp4", size: movie.size, partsTotal: 2 },
    ]);
    expect(queue.getSnapshot()[0]!.parts).toEqual(["waiting", "waiting"]);

    // The page is reloaded: a new queue, the same storage; the user picks the same file again.
    runs[0]!.fail(new UploadFailedError("The gateway could not be reached.", "k1"));
    await settle();
    queue.add([file("movie.mp4")]);
    expect(runs[1]!.options.requestKey).toBe("k1");
    expect(queue.getSnapshot()[1]!.resuming).toBe(true);
    runs[1]!.succeed(1);
    await settle();
    expect(queue.getSnapshot()[1]).toMatchObject({ status: "completed", partsSent: 1 });
    expect(pending.list("demo")).toEqual([]);
  });

  it("shows part states; while paused, parts in flight keep going and finish", () => {
    const { queue, runs } = harness();
    queue.add([file("a")]);
    const run = runs[0]!;
    run.options.onStart?.({ requestKey: "k", uploadId: "u", partsTotal: 3, partSize: 5 * MiB });
    run.options.onPartState?.(1, "done");
    run.options.onPartState?.(2, "sending");
    run.options.onPartState?.(3, "retrying");
    const id = queue.getSnapshot()[0]!.id;
    expect(queue.getSnapshot()[0]!.parts).toEqual(["done", "sending", "retrying"]);
    queue.pause(id);
    expect(run.paused).toBe(true);
    expect(queue.getSnapshot()[0]).toMatchObject({ status: "paused", parts: ["done", "sending", "retrying"] });
    run.options.onPartState?.(2, "done");
    expect(queue.getSnapshot()[0]).toMatchObject({ status: "paused", parts: ["done", "done", "retrying"] });
    queue.resume(id);
    expect(run.paused).toBe(false);
    expect(queue.getSnapshot()[0]!.status).toBe("uploading");
  });

  it("cancels: the uploader is told to abort, the card says cancelled, the upload is forgotten", async () => {
    const { queue, pending, runs, settled } = harness();
    queue.add([file("a")]);
    runs[0]!.options.onStart?.({ requestKey: "k", uploadId: "u", partsTotal: 2, partSize: 5 * MiB });
    const id = queue.getSnapshot()[0]!.id;
    queue.cancel(id);
    expect(runs[0]!.options.signal?.aborted).toBe(true);
    expect(queue.getSnapshot()[0]!.status).toBe("cancelling");
    await settle();
    expect(queue.getSnapshot()[0]!.status).toBe("cancelled");
    expect(pending.list("demo")).toEqual([]);
    expect(settled).toEqual(["a:cancelled"]);
  });

  it("cancelling a waiting continuation aborts that upload on the gateway", () => {
    const { queue, pending, runs, abort } = harness({ maxActive: 1 });
    pending.save({
      requestKey: "old",
      projectId: "demo",
      name: "b",
      size: 6 * MiB,
      lastModified: 1_700_000_000_000,
      partsTotal: 2,
      startedAt: "",
    });
    queue.add([file("a"), file("b")]);
    expect(runs).toHaveLength(1);
    queue.cancel(queue.getSnapshot()[1]!.id);
    expect(abort).toHaveBeenCalledWith("demo", "old");
    expect(statuses(queue)).toEqual(["uploading", "cancelled"]);
    expect(pending.list("demo")).toEqual([]);
  });

  it("fails with the uploader's sentence, keeps the upload to continue, and retries where it stopped", async () => {
    const { queue, pending, runs } = harness();
    queue.add([file("a")]);
    runs[0]!.options.onStart?.({ requestKey: "k", uploadId: "u", partsTotal: 2, partSize: 5 * MiB });
    runs[0]!.fail(new UploadFailedError("Gave up after 6 attempts: part 2: storage answered 503", "k"));
    await settle();
    expect(queue.getSnapshot()[0]).toMatchObject({
      status: "failed",
      error: "Gave up after 6 attempts: part 2: storage answered 503.",
    });
    expect(pending.list("demo")).toHaveLength(1);
    queue.retry(queue.getSnapshot()[0]!.id);
    expect(runs[1]!.options.requestKey).toBe("k");
  });

  it("keeps the content check's findings of a completed upload", async () => {
    const { queue, runs } = harness();
    queue.add([file("clip.mp4")]);
    const verification = { state: "passed" as const, detectedMimeType: "video/mp4" };
    runs[0]!.succeed(2, verification);
    await settle();
    expect(queue.getSnapshot()[0]).toMatchObject({ status: "completed", verification, rejection: undefined });
  });

  it("a file the content check refused fails with its reason, is forgotten and cannot be retried", async () => {
    const { queue, pending, runs, abort } = harness();
    queue.add([file("page.mp4")]);
    runs[0]!.options.onStart?.({ requestKey: "k", uploadId: "u", partsTotal: 2, partSize: 5 * MiB });
    const verification = {
      state: "failed" as const,
      detectedMimeType: "text/html",
      code: "TYPE_MISMATCH" as const,
      reason: "declared video/mp4, found an HTML page (text/html)",
    };
    const message = "The stored file failed the content check: declared video/mp4, found an HTML page (text/html)";
    runs[0]!.fail(new ContentRejectedError(message, "k", verification.reason, verification));
    await settle();
    expect(queue.getSnapshot()[0]).toMatchObject({
      status: "failed",
      requestKey: "k",
      rejection: verification.reason,
      verification,
      error: `${message}.`,
    });
    expect(pending.list("demo")).toEqual([]);
    queue.retry(queue.getSnapshot()[0]!.id);
    expect(runs).toHaveLength(1);
    expect(queue.getSnapshot()[0]!.status).toBe("failed");
    expect(abort).not.toHaveBeenCalled();
  });

  it("refuses to continue the same upload twice at once", () => {
    const { queue, pending, runs } = harness();
    pending.save({
      requestKey: "k",
      projectId: "demo",
      name: "a",
      size: 6 * MiB,
      lastModified: 1_700_000_000_000,
      partsTotal: 2,
      startedAt: "",
    });
    queue.add([file("a")]);
    queue.add([file("a")]);
    expect(runs).toHaveLength(1);
    expect(queue.getSnapshot()[1]).toMatchObject({ status: "failed", error: "“a” is already uploading." });
  });
});

describe("partSizeFor", () => {
  it("uses 5 MiB parts for small files and at most ~256 parts for big ones", () => {
    expect(partSizeFor(24 * MiB)).toBe(5 * MiB);
    expect(partSizeFor(10 * 1024 * MiB)).toBe(40 * MiB);
    expect(partSizeFor(5 * 1024 ** 4)).toBe(5 * 1024 * MiB);
  });
});
