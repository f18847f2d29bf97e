// @vitest-environment happy-dom
import { act, cleanup, renderHook, waitFor } from "@testing-library/react";
import { UploadGatewayError, type Verification } from "@upload-gateway/client";
import { errorEnvelope, VERIFICATION_EXAMPLES } from "@upload-gateway/contract";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { useInterruptedUploads, useUpload, useUploadQueue, type UseUploadOptions } from "../src/index";
import { FakeGateway } from "./fake-gateway";

const MiB = 1024 * 1024;
/** 12 MiB of numbered bytes: three parts of 5, 5 and 2 MiB at the 5 MiB minimum part size. */
const bytes = new Uint8Array(12 * MiB);
for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251;
const movie = () => new File([bytes], "movie.mp4", { type: "video/mp4", lastModified: 1_700_000_000_000 });

let gateway: FakeGateway;
const options = (): UseUploadOptions => ({
  client: gateway.client,
  projectId: "demo",
  partSize: 5 * MiB,
  concurrency: 2,
  transport: gateway.transport,
  verifyParts: false,
});

beforeEach(() => {
  gateway = new FakeGateway();
  localStorage.clear();
});
afterEach(cleanup);

/** Lets the PUTs of these parts through as they come, and waits until they are stored. */
async function storeParts(requestKey: string, partNumbers: number[]) {
  for (const n of partNumbers) {
    await waitFor(() => expect(gateway.holds(requestKey, n)).toBe(true));
    act(() => gateway.release(requestKey, n));
  }
  await waitFor(() => expect(partNumbers.every((n) => gateway.uploads.get(requestKey)!.parts.has(n))).toBe(true));
}

describe("useUpload", () => {
  it("follows the real uploader: planned parts, per-part states and bytes, then completed", async () => {
    const { result } = renderHook(() => useUpload(options()));
    expect(result.current.status).toBe("idle");
    act(() => result.current.start(movie()));
    await waitFor(() => expect(gateway.waiting).toBe(2));
    expect(result.current.upload).toMatchObject({ status: "uploading", requestKey: "k1", partSize: 5 * MiB });
    expect(result.current.upload!.parts).toEqual(["sending", "sending", "waiting"]);
    // Halfway through parts 1 and 2 (the fake store reports half of each part before it stores it).
    await waitFor(() => expect(result.current.upload!.partBytes).toEqual([2.5 * MiB, 2.5 * MiB, 0]));

    await storeParts("k1", [1, 2, 3]);
    await waitFor(() => expect(result.current.status).toBe("completed"));
    expect(result.current.upload).toMatchObject({ bytesSent: 12 * MiB, partsSent: 3, parts: ["done", "done", "done"] });
    expect(result.current.upload!.partBytes).toEqual([5 * MiB, 5 * MiB, 2 * MiB]);
    expect(gateway.calls).toEqual(["start k1", "complete k1 3", "success k1"]);
    const stored = gateway.uploads.get("k1")!.parts;
    expect([...stored.keys()].sort()).toEqual([1, 2, 3]);
    expect(stored.get(3)!.bytes[0]).toBe((10 * MiB) % 251);
  });

  it("pauses: the parts in flight finish, no other part starts until resumed", async () => {
    const { result } = renderHook(() => useUpload(options()));
    act(() => result.current.start(movie()));
    await waitFor(() => expect(gateway.waiting).toBe(2));
    act(() => result.current.pause());
    expect(result.current.status).toBe("paused");
    act(() => gateway.release());
    await waitFor(() => expect(result.current.upload!.parts).toEqual(["done", "done", "waiting"]));
    await new Promise((r) => setTimeout(r, 50));
    expect(gateway.waiting).toBe(0);
    expect(result.current.status).toBe("paused");

    act(() => result.current.resume());
    await waitFor(() => expect(gateway.waiting).toBe(1));
    await storeParts("k1", [3]);
    await waitFor(() => expect(result.current.status).toBe("completed"));
  });

  it("cancels: the upload is aborted on the gateway and forgotten here", async () => {
    const { result } = renderHook(() => useUpload(options()));
    act(() => result.current.start(movie()));
    await waitFor(() => expect(gateway.waiting).toBe(2));
    expect(localStorage.length).toBe(1);
    act(() => result.current.cancel());
    await waitFor(() => expect(result.current.status).toBe("cancelled"));
    expect(gateway.calls).toEqual(["start k1", "abort k1"]);
    const { result: after } = renderHook(() => useUploadQueue(options()));
    expect(after.current.queue.pending?.list("demo")).toEqual([]);
  });

  it("continues after a reload: the same file picks up its upload and sends only the missing parts", async () => {
    const first = renderHook(() => useUpload(options()));
    act(() => first.result.current.start(movie()));
    await storeParts("k1", [1, 2]);
    first.unmount(); // the page goes away with part 3 unsent

    const { result } = renderHook(() => useUpload(options()));
    act(() => result.current.start(movie()));
    expect(result.current.upload).toMatchObject({ requestKey: "k1", resuming: true });
    await waitFor(() => expect(result.current.upload!.parts).toEqual(["done", "done", "sending"]));
    await storeParts("k1", [3]);
    await waitFor(() => expect(result.current.status).toBe("completed"));
    expect(result.current.upload!.partsSent).toBe(1);
    expect(gateway.calls).toEqual(["start k1", "resume k1", "complete k1 3", "success k1"]);
    expect(localStorage.getItem("upload-gateway:pending-uploads")).toBe("[]");
  });

  it("refuses a second start while one is under way, and starts afresh after reset", async () => {
    const { result } = renderHook(() => useUpload({ ...options(), pending: false }));
    act(() => result.current.start(movie()));
    expect(() => result.current.start(movie())).toThrow(/still uploading/);
    await storeParts("k1", [1, 2, 3]);
    await waitFor(() => expect(result.current.status).toBe("completed"));
    act(() => result.current.reset());
    expect(result.current.status).toBe("idle");
    act(() => result.current.start(movie()));
    await waitFor(() => expect(result.current.upload?.requestKey).toBe("k2"));
  });
});

describe("useUpload and the gateway's content check", () => {
  const passed: Verification = VERIFICATION_EXAMPLES.passed;

  const refusal = "The stored file failed the content check: declared video/mp4, found an HTML page (text/html).";

  it("exposes what the check found on a completed upload", async () => {
    gateway.verdict = passed;
    const { result } = renderHook(() => useUpload(options()));
    act(() => result.current.start(movie()));
    await storeParts("k1", [1, 2, 3]);
    await waitFor(() => expect(result.current.status).toBe("completed"));
    expect(result.current.upload).toMatchObject({ verification: passed, rejection: undefined });
  });

  it("leaves verification undefined with a gateway that does not check content", async () => {
    const { result } = renderHook(() => useUpload(options()));
    act(() => result.current.start(movie()));
    await storeParts("k1", [1, 2, 3]);
    await waitFor(() => expect(result.current.status).toBe("completed"));
    expect(result.current.upload!.verification).toBeUndefined();
  });

  it("a refused file fails with the reason, is forgotten (nothing to continue) and is not retried", async () => {
    gateway.verdict = new UploadGatewayError(422, errorEnvelope([{ code: "CONTENT_REJECTED", message: refusal }]));
    const { result } = renderHook(() => useUpload(options()));
    act(() => result.current.start(movie()));
    await storeParts("k1", [1, 2, 3]);
    await waitFor(() => expect(result.current.status).toBe("failed"));
    expect(result.current.upload).toMatchObject({ requestKey: "k1", rejection: refusal, error: refusal });
    expect(gateway.calls).toEqual(["start k1", "complete k1 3", "success k1", "get k1"]);
    expect(localStorage.getItem("upload-gateway:pending-uploads")).toBe("[]");
    act(() => result.current.retry());
    expect(result.current.status).toBe("failed");
    expect(gateway.calls).toHaveLength(4);
  });
});

describe("useUploadQueue and useInterruptedUploads", () => {
  it("offers an interrupted upload, refuses another file for it, and continues it with the same file", async () => {
    const first = renderHook(() => useUploadQueue(options()));
    act(() => first.result.current.add([movie()]));
    await storeParts("k1", [1, 2]);
    first.unmount();

    const { result } = renderHook(() => {
      const queue = useUploadQueue(options());
      return { queue, interrupted: useInterruptedUploads(queue) };
    });
    await waitFor(() => expect(result.current.interrupted.uploads[0]?.stored).toEqual({ parts: 2, bytes: 10 * MiB }));
    const offer = result.current.interrupted.uploads[0]!.upload;
    expect(offer).toMatchObject({ requestKey: "k1", name: "movie.mp4", size: 12 * MiB, partsTotal: 3 });

    const other = new File(["x"], "other.bin");
    act(() => result.current.interrupted.continueWith(offer, other));
    expect(result.current.interrupted.uploads[0]!.error).toMatch(
      /^That is not the same file: “other\.bin” \(1 byte\) was chosen/,
    );
    expect(result.current.queue.items).toEqual([]);

    act(() => result.current.interrupted.continueWith(offer, movie()));
    expect(result.current.interrupted.uploads).toEqual([]); // the queue holds it now
    await storeParts("k1", [3]);
    await waitFor(() => expect(result.current.queue.items[0]!.status).toBe("completed"));
    expect(result.current.queue.busy).toBe(false);
  });

  it("forgets uploads finished elsewhere, and discards one by aborting it", async () => {
    const first = renderHook(() => useUploadQueue({ ...options(), maxActive: 2 }));
    act(() => first.result.current.add([movie(), new File([new Uint8Array(6 * MiB)], "b.bin", { lastModified: 1 })]));
    await waitFor(() => expect(gateway.uploads.size).toBe(2));
    first.unmount();
    gateway.uploads.get("k2")!.state = "completed"; // finished by another tab

    const { result } = renderHook(() => {
      const queue = useUploadQueue(options());
      return { queue, interrupted: useInterruptedUploads(queue) };
    });
    await waitFor(() => expect(result.current.interrupted.uploads.map((u) => u.upload.name)).toEqual(["movie.mp4"]));
    await act(() => result.current.interrupted.discard(result.current.interrupted.uploads[0]!.upload));
    expect(result.current.interrupted.uploads).toEqual([]);
    expect(gateway.calls).toContain("abort k1");
    expect(result.current.queue.queue.pending?.list("demo")).toEqual([]);
  });
});
