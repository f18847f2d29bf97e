import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient, UploadAbortedError, upload, type UploadProgress } from "../src/index";
import { uploadFile } from "../src/node";
import { startFaultProxy, type Fault } from "./support/fault-proxy";
import { startGateway, type Backend, type Gateway } from "./support/gateway";

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const CLI = join(__dirname, "..", "dist", "cli.js");

let files: string;
let big: Buffer;
let bigPath: string;

beforeAll(() => {
  files = mkdtempSync(join(tmpdir(), "client-files-"));
  big = randomBytes(64 * MiB);
  bigPath = join(files, "movie.mp4");
  writeFileSync(bigPath, big);
});
afterAll(() => rmSync(files, { recursive: true, force: true }));

async function downloaded(gateway: Gateway, requestKey: string): Promise<string> {
  const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
  const { downloadPath } = await api.downloadUrl(gateway.projectId, requestKey);
  const response = await fetch(downloadPath);
  expect(response.status).toBe(200);
  return sha256(new Uint8Array(await response.arrayBuffer()));
}

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
    const result = await uploadFile(bigPath, { ...common(), partSize: 8 * MiB, concurrency: 4, onProgress: (p) => events.push(p) });
    expect(result).toMatchObject({ size: 64 * MiB, partsNumber: 8, partSize: 8 * MiB, fileName: "movie.mp4", mimeType: "video/mp4", partsSent: 8 });
    expect(events.length).toBeGreaterThanOrEqual(8);
    for (let i = 1; i < events.length; i++) expect(events[i]!.bytesSent).toBeGreaterThanOrEqual(events[i - 1]!.bytesSent);
    expect(events.at(-1)).toMatchObject({ bytesSent: 64 * MiB, totalBytes: 64 * MiB, partsDone: 8, partsTotal: 8 });
    // Progress within parts, not only at their ends (node:http reports bytes as they leave).
    expect(events.some((e) => e.bytesSent % (8 * MiB) !== 0)).toBe(true);
    expect(await downloaded(gateway, result.requestKey)).toBe(sha256(big));
  });

  it("uploads a Blob with the fetch transport (browsers, Deno, Bun)", async () => {
    const data = randomBytes(11 * MiB);
    const result = await upload(new Blob([data], { type: "application/octet-stream" }), { ...common(), partSize: 5 * MiB });
    expect(result.partsNumber).toBe(3);
    expect(await downloaded(gateway, result.requestKey)).toBe(sha256(data));
  });

  it("cancelling stops the upload and leaves nothing behind on the server", async () => {
    const controller = new AbortController();
    let requestKey: string | undefined;
    const task = uploadFile(bigPath, {
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

  it("refuses to resume with a different file", async () => {
    const data = randomBytes(6 * MiB);
    const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
    const started = await api.start(gateway.projectId, { partsNumber: 2, fileName: "a.bin", contentLength: String(data.length), mimeType: "application/octet-stream" });
    await expect(upload(new Blob([data.subarray(1)]), { ...common(), requestKey: started.requestKey })).rejects.toThrow(/pick the same file/);
  });
});
