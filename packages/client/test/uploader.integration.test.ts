import { readdirSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient, UploadAbortedError, upload, type UploadProgress } from "../src/index";
import { uploadFile } from "../src/node";
import { startGateway, type Backend, type Gateway } from "./support/gateway";
import { downloaded, md5Hex, MiB, sha256, useTestFiles } from "./support/test-files";

// The uploader against a real gateway on either store: paths and Blobs, progress, cancel, resume, pause, single PUTs.
const files = useTestFiles();

describe.each<Backend>(["local", "s3"])("uploader on %s storage", (backend) => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startGateway(backend);
  });
  afterAll(async () => {
    await gateway?.close();
  });
  const common = () => ({ baseUrl: gateway.url, apiKey: gateway.apiKey, projectId: gateway.projectId });

  it("uploads 64 MiB from a file path with concurrency; progress is monotonic and ends at the total", async () => {
    const events: UploadProgress[] = [];
    const result = await uploadFile(files.bigPath, {
      ...common(),
      partSize: 8 * MiB,
      concurrency: 4,
      onProgress: (p) => events.push(p),
    });
    expect(result).toMatchObject({
      size: 64 * MiB,
      partsNumber: 8,
      partSize: 8 * MiB,
      fileName: "movie.mp4",
      mimeType: "video/mp4",
      partsSent: 8,
    });
    expect(events.length).toBeGreaterThanOrEqual(8);
    for (let i = 1; i < events.length; i++)
      expect(events[i]!.bytesSent).toBeGreaterThanOrEqual(events[i - 1]!.bytesSent);
    expect(events.at(-1)).toMatchObject({ bytesSent: 64 * MiB, totalBytes: 64 * MiB, partsDone: 8, partsTotal: 8 });
    // Progress within parts is the transport's (node.test.ts) and the tracker's (progress.test.ts): here, with events
    // at most every 100 ms, an idle machine can send all four parts in flight whole between two of them.
    expect(await downloaded(gateway, result.requestKey)).toBe(sha256(files.big));
  });

  it("uploads a Blob with the fetch transport (browsers, Deno, Bun)", async () => {
    const data = randomBytes(11 * MiB);
    const result = await upload(new Blob([data], { type: "application/octet-stream" }), {
      ...common(),
      partSize: 5 * MiB,
    });
    expect(result.partsNumber).toBe(3);
    expect(await downloaded(gateway, result.requestKey)).toBe(sha256(data));
  });

  it("hashes parts for Content-MD5 in the order they are sent, the first part first", async () => {
    const partSize = 5 * MiB;
    const data = randomBytes(6 * partSize);
    const partOf = new Map(
      Array.from({ length: 6 }, (_, i) => [md5Hex(data.subarray(i * partSize, (i + 1) * partSize)), i + 1] as const),
    );
    const hashed: number[] = [];
    const hashPart = async (part: Blob) => {
      const call = hashed.push(0) - 1; // in the order of asking; which part it is, once its bytes are read
      const md5 = md5Hex(new Uint8Array(await part.arrayBuffer()));
      hashed[call] = partOf.get(md5)!;
      return md5;
    };
    const result = await upload(new Blob([data]), {
      ...common(),
      partSize,
      concurrency: 3,
      singlePut: false,
      hashPart,
    });
    // Hashes run one at a time in the order they are asked for; a part asked after the next ones would keep its
    // connection idle until they are done.
    expect(hashed).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await downloaded(gateway, result.requestKey)).toBe(sha256(data));
  });

  it("cancelling stops the upload and leaves nothing behind on the server", async () => {
    const controller = new AbortController();
    let requestKey: string | undefined;
    const task = uploadFile(files.bigPath, {
      ...common(),
      partSize: 5 * MiB,
      concurrency: 2,
      signal: controller.signal,
      onStart: (info) => (requestKey = info.requestKey),
      onProgress: (p) => {
        if (p.partsDone >= 1) controller.abort();
      },
    });
    await expect(task.done).rejects.toBeInstanceOf(UploadAbortedError);
    const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
    const state = await api.get(gateway.projectId, requestKey!);
    expect(state.state).toBe("aborted");
    expect(state.uploadedParts).toEqual([]);
    if (backend === "local") expect(readdirSync(join(gateway.dir, "data", "multipart"))).toEqual([]);
  });

  it("resumes from a request key after the page is gone, sending only the missing parts", async () => {
    const data = randomBytes(20 * MiB);
    let requestKey: string | undefined;
    let stopped!: () => void;
    const twoPartsDone = new Promise<void>((resolve) => (stopped = resolve));
    // The first session sends two parts, then stops sending for good (a reload): the upload stays on the server.
    const first = upload(new Blob([data]), {
      ...common(),
      partSize: 5 * MiB,
      concurrency: 1,
      onStart: (info) => (requestKey = info.requestKey),
      onPartState: (n, state) => {
        if (state === "done" && n === 2) {
          first.pause();
          stopped();
        }
      },
    });
    await twoPartsDone;
    const sent: number[] = [];
    const resumed = await upload(new Blob([data]), {
      ...common(),
      requestKey: requestKey!,
      onPartState: (n, s) => s === "sending" && sent.push(n),
    });
    expect(sent.sort()).toEqual([3, 4]);
    expect(resumed.partsSent).toBe(2);
    expect(await downloaded(gateway, requestKey!)).toBe(sha256(data));
  });

  it("pauses and resumes: nothing is sent while paused, and the upload then completes", async () => {
    const data = randomBytes(16 * MiB);
    const states: string[] = [];
    let pausedAt = -1;
    const task = upload(new Blob([data]), {
      ...common(),
      partSize: 5 * MiB,
      concurrency: 1,
      onPartState: (n, state) => {
        states.push(`${n}:${state}`);
        if (n === 1 && state === "done") {
          task.pause();
          pausedAt = states.length;
          setTimeout(() => {
            expect(states.length).toBe(pausedAt); // no part started while paused
            task.resume();
          }, 300);
        }
      },
    });
    const result = await task;
    expect(task.paused).toBe(false);
    expect(states.slice(pausedAt)).toEqual(["2:sending", "2:done", "3:sending", "3:done", "4:sending", "4:done"]);
    expect(await downloaded(gateway, result.requestKey)).toBe(sha256(data));
  });

  it("a file of at most one part goes up with one PUT (POST /url), from a path and from a Blob; an empty file too", async () => {
    const data = randomBytes(3 * MiB + 17);
    const path = join(files.dir, `small-${backend}.mp4`);
    writeFileSync(path, data);
    const events: UploadProgress[] = [];
    const starts: unknown[] = [];
    const fromPath = await uploadFile(path, {
      ...common(),
      onProgress: (p) => events.push(p),
      onStart: (info) => starts.push(info),
    });
    expect(fromPath).toMatchObject({
      transfer: "single-put",
      uploadId: "",
      partsNumber: 1,
      partsSent: 1,
      size: data.length,
      mimeType: "video/mp4",
    });
    expect(starts).toEqual([{ requestKey: fromPath.requestKey, uploadId: "", partsTotal: 1, partSize: data.length }]);
    expect(events.at(-1)).toMatchObject({
      bytesSent: data.length,
      totalBytes: data.length,
      partsDone: 1,
      partsTotal: 1,
    });
    expect(await downloaded(gateway, fromPath.requestKey)).toBe(sha256(data));
    const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
    expect(await api.get(gateway.projectId, fromPath.requestKey)).toMatchObject({
      transfer: "single-put",
      state: "completed",
    });

    const fromBlob = await upload(new Blob([data], { type: "application/x-custom+bin" }), common());
    expect(fromBlob).toMatchObject({ transfer: "single-put", mimeType: "application/x-custom+bin" });
    expect(await downloaded(gateway, fromBlob.requestKey)).toBe(sha256(data));

    const empty = await upload(new Blob([]), { ...common(), fileName: "empty.txt" });
    expect(empty).toMatchObject({ transfer: "single-put", size: 0 });
    expect(await downloaded(gateway, empty.requestKey)).toBe(sha256(new Uint8Array(0)));

    // Above one part, and with singlePut: false, it is a multipart upload.
    const multipart = await upload(new Blob([data]), { ...common(), singlePut: false });
    expect(multipart).toMatchObject({ transfer: "multipart", partsNumber: 1 });
    expect(multipart.uploadId).not.toBe("");
  });

  it("cancelling a single PUT midway aborts the upload: nothing is stored", async () => {
    const controller = new AbortController();
    let requestKey: string | undefined;
    const task = uploadFile(files.bigPath, {
      ...common(),
      partSize: 128 * MiB,
      signal: controller.signal,
      onStart: (info) => (requestKey = info.requestKey),
      onProgress: (p) => {
        if (p.bytesSent > 0) controller.abort();
      },
    });
    await expect(task.done).rejects.toBeInstanceOf(UploadAbortedError);
    const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
    expect(await api.get(gateway.projectId, requestKey!)).toMatchObject({ transfer: "single-put", state: "aborted" });
    await expect(api.downloadUrl(gateway.projectId, requestKey!)).rejects.toMatchObject({ status: 409 });
  });

  it("continuing a single-PUT upload by its request key sends the file again as a new one and aborts the old", async () => {
    const data = randomBytes(2 * MiB);
    const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
    const old = await api.startSinglePut(gateway.projectId, {
      fileName: "a.bin",
      contentLength: String(data.length),
      mimeType: "application/octet-stream",
    });
    const result = await upload(new Blob([data]), { ...common(), requestKey: old.requestKey });
    expect(result.transfer).toBe("single-put");
    expect(result.requestKey).not.toBe(old.requestKey);
    expect(await downloaded(gateway, result.requestKey)).toBe(sha256(data));
    expect((await api.get(gateway.projectId, old.requestKey)).state).toBe("aborted");
    // Once completed, continuing it has nothing to send.
    const again = await upload(new Blob([data]), { ...common(), requestKey: result.requestKey });
    expect(again).toMatchObject({ requestKey: result.requestKey, partsSent: 0 });
  });

  it("refuses to resume with a different file", async () => {
    const data = randomBytes(6 * MiB);
    const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
    const started = await api.start(gateway.projectId, {
      partsNumber: 2,
      fileName: "a.bin",
      contentLength: String(data.length),
      mimeType: "application/octet-stream",
    });
    await expect(upload(new Blob([data.subarray(1)]), { ...common(), requestKey: started.requestKey })).rejects.toThrow(
      /pick the same file/,
    );
  });
});
