import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient, UploadAbortedError, upload, type UploadProgress } from "../src/index";
import { uploadFile } from "../src/node";
import { runProcess } from "@upload-gateway/server/testing";
import { startFaultProxy, type Fault, type FaultProxy } from "./support/fault-proxy";
import {
  startGateway,
  startGatewayBehindFaults,
  type Backend,
  type Gateway,
  type GatewayBehindFaults,
} from "./support/gateway";

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const md5Hex = (data: Uint8Array) => createHash("md5").update(data).digest("hex");
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
    const result = await uploadFile(bigPath, {
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
    // Progress within parts, not only at their ends (node:http reports bytes as they leave).
    expect(events.some((e) => e.bytesSent % (8 * MiB) !== 0)).toBe(true);
    expect(await downloaded(gateway, result.requestKey)).toBe(sha256(big));
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
    const path = join(files, `small-${backend}.mp4`);
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
    const task = uploadFile(bigPath, {
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

describe.each<Backend>(["local", "s3"])("through a faulty network to %s storage", (backend) => {
  let gateway: GatewayBehindFaults;
  // Per part, what happens to each attempt (then "pass").
  const faults: Record<number, Fault[]> = {
    1: ["reset"],
    2: ["503"],
    3: ["stall"],
    4: ["403"],
    5: ["wrong-etag"],
    6: ["lost-reply", "403"], // stored, reply lost; its URL then refused: the resume endpoint reports it stored
    7: ["corrupt"], // one byte flipped on the way: the ETag (the store's MD5 of what it got) does not match
  };

  beforeAll(async () => {
    gateway = await startGatewayBehindFaults(
      backend,
      (partNumber, attempt) => faults[partNumber]?.[attempt - 1] ?? "pass",
    );
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it("survives resets, 503s, a stalled part, a refused URL, a wrong ETag and a lost reply; stores the identical file", async () => {
    const data = randomBytes(32 * MiB);
    const path = join(files, `faulty-${backend}.bin`);
    writeFileSync(path, data);
    const states: string[] = [];
    const result = await uploadFile(path, {
      baseUrl: gateway.url,
      apiKey: gateway.apiKey,
      projectId: gateway.projectId,
      partSize: 5 * MiB,
      concurrency: 3,
      // Long enough that a part merely slowed by a loaded machine is not taken for stalled (1 s was not: at a load
      // average of 20, every attempt of one part went without progress for a second), short enough to keep the test quick.
      stallTimeoutMs: 5_000,
      retry: { baseDelayMs: 10, maxDelayMs: 50 },
      onPartState: (n, state) => states.push(`${n}:${state}`),
    });
    expect(result.partsNumber).toBe(7);
    expect(await downloaded(gateway, result.requestKey)).toBe(sha256(data));
    // Every faulty part was tried twice: the fault, then a clean attempt.
    for (const n of [1, 2, 3, 4, 5, 7]) {
      expect(gateway.proxy.log.filter((e) => e.partNumber === n).map((e) => e.fault)).toEqual([...faults[n]!, "pass"]);
    }
    expect(gateway.proxy.log.filter((e) => e.partNumber === 6).map((e) => e.fault)).toEqual(faults[6]);
    expect(states).toContain("1:retrying");
  });
});

describe.each<Backend>(["local", "s3"])(
  "part integrity and pause, counted through a proxy to %s storage",
  (backend) => {
    let gateway: GatewayBehindFaults;
    let faults: Record<number, Fault[]> = {};

    beforeAll(async () => {
      gateway = await startGatewayBehindFaults(
        backend,
        (partNumber, attempt) => faults[partNumber]?.[attempt - 1] ?? "pass",
      );
    });
    afterAll(async () => {
      await gateway?.close();
    });
    const common = () => ({ baseUrl: gateway.url, apiKey: gateway.apiKey, projectId: gateway.projectId });
    const putsOf = (n: number) => gateway.proxy.log.filter((e) => e.partNumber === n);

    it("sends each part's MD5 as Content-MD5; the store refuses a part corrupted on the way and it is sent again", async () => {
      gateway.proxy.reset();
      faults = { 2: ["corrupt", "corrupt"] };
      const data = randomBytes(16 * MiB);
      const result = await upload(new Blob([data]), {
        ...common(),
        partSize: 5 * MiB,
        retry: { baseDelayMs: 10, maxDelayMs: 50 },
      });
      expect(await downloaded(gateway, result.requestKey)).toBe(sha256(data));
      for (const [i, entry] of gateway.proxy.log.entries()) {
        const n = entry.partNumber;
        const part = data.subarray((n - 1) * 5 * MiB, Math.min(n * 5 * MiB, data.length));
        expect(entry.contentMd5, `PUT ${i}`).toBe(createHash("md5").update(part).digest("base64"));
      }
      // The store checked the digest itself: 400 (BadDigest), nothing stored, then the clean attempt.
      expect(putsOf(2).map((e) => [e.fault, e.status])).toEqual([
        ["corrupt", 400],
        ["corrupt", 400],
        ["pass", 200],
      ]);
      for (const n of [1, 3, 4]) expect(putsOf(n).map((e) => e.fault)).toEqual(["pass"]);
    });

    it("a single PUT survives a reset, a 503, a refused URL (signed again), a corrupted body and a lost reply, with its Content-MD5 and exactly the headers the gateway listed", async () => {
      for (const send of ["blob", "path"] as const) {
        gateway.proxy.reset();
        faults = { 1: ["reset", "503", "403", "corrupt", "lost-reply"] };
        const data = randomBytes(2 * MiB + 3);
        const path = join(files, `single-faulty-${backend}.mp4`);
        writeFileSync(path, data);
        const options = { ...common(), retry: { baseDelayMs: 10, maxDelayMs: 50 } };
        const result = await (send === "blob"
          ? upload(new Blob([data], { type: "video/mp4" }), options)
          : uploadFile(path, options));
        expect(result.transfer).toBe("single-put");
        expect(await downloaded(gateway, result.requestKey)).toBe(sha256(data));
        expect(
          putsOf(1).map((e) => e.fault),
          send,
        ).toEqual(["reset", "503", "403", "corrupt", "lost-reply", "pass"]);
        // The file's MD5 goes as Content-MD5 from a path too (a single PUT's URL stores once, so corrupted bytes must be
        // refused by the store: 400), and the store refuses the PUT after the lost reply (412): the earlier attempt
        // stored the file (its reply never reached the client), which the client then has the gateway confirm.
        expect(
          putsOf(1)
            .map((e) => e.status)
            .slice(3),
        ).toEqual([400, undefined, 412]);
        for (const entry of putsOf(1)) {
          // The embedded store needs no header (the URL carries the type); S3's URL is signed for these two.
          expect(entry.ifNoneMatch).toBe(backend === "s3" ? "*" : undefined);
          expect(entry.acl).toBe(backend === "s3" ? "bucket-owner-full-control" : undefined);
          // Nothing but those (and Content-MD5): not even a type, which neither store needs.
          expect(entry.contentType).toBeUndefined();
          expect(entry.contentMd5).toBe(createHash("md5").update(data).digest("base64"));
        }
      }
    });

    it("gives up on a part the store keeps refusing, after the bounded retries", async () => {
      gateway.proxy.reset();
      faults = { 1: Array<Fault>(10).fill("corrupt") };
      const task = upload(new Blob([randomBytes(6 * MiB)]), {
        ...common(),
        partSize: 5 * MiB,
        retry: { retries: 2, baseDelayMs: 10, maxDelayMs: 20 },
      });
      await expect(task.done).rejects.toThrow(
        /Gave up after 3 attempts: part 1: the store refused it, its bytes do not match their MD5/,
      );
      expect(putsOf(1)).toHaveLength(3);
    });

    it("pause lets the parts in flight finish and starts no other; every part is PUT exactly once", async () => {
      gateway.proxy.reset();
      faults = {};
      const data = randomBytes(40 * MiB);
      const sending = new Set<number>();
      const states = new Map<number, string[]>(); // each part's states in order, for a readable failure
      let pausedWith: number[] = [];
      let onPaused!: () => void;
      const paused = new Promise<void>((resolve) => (onPaused = resolve));
      const task = upload(new Blob([data]), {
        ...common(),
        partSize: 5 * MiB,
        concurrency: 4,
        onPartState: (n, state) => {
          states.set(n, [...(states.get(n) ?? []), state]);
          if (state === "sending") sending.add(n);
          if (state === "done") sending.delete(n);
          if (state === "done" && pausedWith.length === 0) {
            task.pause();
            pausedWith = [...sending];
            onPaused();
          }
        },
      });
      await paused;
      // While paused: the parts that were in flight finish, stored; nothing else starts.
      for (let i = 0; i < 600 && sending.size > 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(
        sending.size,
        JSON.stringify({
          sending: [...sending],
          pausedWith,
          states: Object.fromEntries(states),
          log: gateway.proxy.log,
        }),
      ).toBe(0);
      const whilePaused = gateway.proxy.log.map((e) => e.partNumber);
      await new Promise((r) => setTimeout(r, 500));
      expect(gateway.proxy.log.map((e) => e.partNumber)).toEqual(whilePaused);
      for (const n of pausedWith) expect(putsOf(n).map((e) => e.status)).toEqual([200]);
      task.resume();
      const result = await task;
      expect(pausedWith.length).toBeGreaterThan(0);
      expect(whilePaused.length).toBeLessThan(8);
      expect(gateway.proxy.log.map((e) => e.partNumber).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(gateway.proxy.log.every((e) => e.status === 200)).toBe(true);
      expect(await downloaded(gateway, result.requestKey)).toBe(sha256(data));
    });
  },
);

describe("a store whose part ETags are not MD5s (S3 with SSE-KMS; the embedded store told to answer so)", () => {
  let gateway: GatewayBehindFaults;
  beforeAll(async () => {
    gateway = await startGatewayBehindFaults(
      "local",
      (partNumber, attempt) => (partNumber === 2 && attempt === 1 ? "corrupt" : "pass"),
      {
        env: { LOCAL_STORAGE_ETAGS: "opaque" },
      },
    );
  });
  afterAll(async () => {
    await gateway?.close();
  });
  const common = () => ({ baseUrl: gateway.url, apiKey: gateway.apiKey, projectId: gateway.projectId });

  it.each([
    ["a file path (Node transport)", (path: string) => uploadFile(path, { ...common(), partSize: 5 * MiB })],
    [
      "a Blob (fetch transport)",
      (path: string) => upload(new Blob([readFileSync(path)]), { ...common(), partSize: 5 * MiB }),
    ],
  ])(
    "uploads %s sending each part once, checked by Content-MD5; a corrupted part is refused and sent again",
    async (_, send) => {
      gateway.proxy.reset();
      const data = randomBytes(16 * MiB);
      const path = join(files, "opaque.bin");
      writeFileSync(path, data);
      const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
      const result = await send(path);
      expect(await downloaded(gateway, result.requestKey)).toBe(sha256(data));
      const stored = (await api.list(gateway.projectId, { limit: 1 })).uploads[0]!;
      expect(stored.requestKey).toBe(result.requestKey);
      expect(gateway.proxy.log.map((e) => [e.partNumber, e.fault, e.status])).toEqual(
        expect.arrayContaining([
          [1, "pass", 200],
          [2, "corrupt", 400],
          [2, "pass", 200],
          [3, "pass", 200],
          [4, "pass", 200],
        ]),
      );
      expect(gateway.proxy.log).toHaveLength(5);
      expect(gateway.proxy.log.every((e) => e.contentMd5 !== undefined)).toBe(true);
    },
  );

  it("the gateway says so in the start result", async () => {
    const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
    const started = await api.start(gateway.projectId, {
      partsNumber: 1,
      fileName: "a.bin",
      contentLength: "10",
      mimeType: "application/octet-stream",
    });
    expect(started.integrity).toEqual({ contentMd5: true, eTagIsMd5: false });
  });
});

describe.each<Backend>(["local", "s3"])("a start whose reply is lost, on %s storage", (backend) => {
  let gateway: Gateway;
  let proxy: FaultProxy;
  beforeAll(async () => {
    gateway = await startGateway(backend);
    // In front of the gateway's API: the first start reaches the gateway, which makes the upload, but its reply is lost.
    proxy = await startFaultProxy(
      gateway.url,
      () => "pass",
      (method, path, attempt) =>
        method === "POST" && path.endsWith("/uploads/multipart") && attempt === 1 ? "lost-reply" : "pass",
    );
  });
  afterAll(async () => {
    await proxy?.close();
    await gateway?.close();
  });

  it("is retried with the same Idempotency-Key: one upload exists, and it completes", async () => {
    const data = randomBytes(11 * MiB);
    const result = await upload(new Blob([data]), {
      baseUrl: proxy.url,
      apiKey: gateway.apiKey,
      projectId: gateway.projectId,
      partSize: 5 * MiB,
      retry: { baseDelayMs: 10, maxDelayMs: 50 },
    });
    const starts = proxy.requests.filter((r) => r.method === "POST" && r.path.endsWith("/uploads/multipart"));
    expect(starts.map((r) => r.fault)).toEqual(["lost-reply", "pass"]);
    const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
    const { uploads } = await api.list(gateway.projectId);
    expect(uploads.map((u) => [u.requestKey, u.state])).toEqual([[result.requestKey, "completed"]]);
    expect(await downloaded(gateway, result.requestKey)).toBe(sha256(data));
  });
});

describe("upload-gateway CLI", () => {
  let gateway: Gateway;
  let stateDir: string;
  beforeAll(async () => {
    gateway = await startGateway("local");
    stateDir = mkdtempSync(join(tmpdir(), "cli-state-"));
  });
  afterAll(async () => {
    await gateway?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  function cli(args: string[], env: Record<string, string> = {}) {
    return runProcess(process.execPath, [CLI, ...args], { env: { XDG_STATE_HOME: stateDir, ...env } });
  }
  const target = () => ["--server", gateway.url, "--project", gateway.projectId];

  it("uploads with --json: one JSON line whose requestKey downloads the identical file", async () => {
    const run = cli(["upload", bigPath, ...target(), "--json"], { UPLOAD_GATEWAY_KEY: gateway.apiKey });
    expect(await run.exit).toBe(0);
    const lines = run.out().trim().split("\n");
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0]!);
    expect(result).toMatchObject({ size: 64 * MiB, uploadId: expect.any(String), requestKey: expect.any(String) });
    expect(await downloaded(gateway, result.requestKey)).toBe(sha256(big));
  });

  it("exits 2 on usage errors and 3 on a refused key", async () => {
    const usage = cli(["upload", bigPath, "--server", "ftp://x", "--project", "x", "--key", "k"]);
    expect(await usage.exit).toBe(2);
    expect(usage.err()).toContain("--server must be an http(s) URL");
    const missing = cli(["upload", join(files, "nope.bin"), ...target(), "--key", "k"]);
    expect(await missing.exit).toBe(2);
    const auth = cli(["upload", bigPath, ...target(), "--key", "wrong-key"]);
    expect(await auth.exit).toBe(3);
    expect(auth.err()).toContain("A valid API key is required");
  });

  it("prints how to continue an interrupted --resume run, without the key; that command continues it", async () => {
    const args = [
      "upload",
      bigPath,
      ...target(),
      "--key",
      gateway.apiKey,
      "--resume",
      "--part-size",
      "5MiB",
      "--concurrency",
      "1",
    ];
    const first = cli(args);
    const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
    let requestKey: string | undefined;
    for (let i = 0; i < 400 && !requestKey; i++) {
      await new Promise((r) => setTimeout(r, 25));
      requestKey = (await api.list(gateway.projectId, { limit: 1 })).uploads.find(
        (u) => u.state === "uploading",
      )?.requestKey;
    }
    expect(requestKey).toBeDefined();
    // Interrupt once the CLI is sending parts: its state is saved when the start's reply arrives, and the record is
    // listed a moment before that (a SIGINT in between leaves nothing to continue).
    for (let i = 0; i < 400; i++) {
      if ((await api.get(gateway.projectId, requestKey!)).uploadedParts.length >= 1) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    first.child.kill("SIGINT");
    expect(await first.exit).toBe(130);
    expect(first.err()).not.toContain(gateway.apiKey);
    const printed = /run the same command again:\n {2}upload-gateway (.+?) --key "\$UPLOAD_GATEWAY_KEY"/.exec(
      first.err(),
    );
    expect(printed, first.err()).not.toBeNull();
    const again = printed![1]!.split(" ");
    expect(again).toEqual(args.filter((arg, i) => arg !== "--key" && args[i - 1] !== "--key"));
    const second = cli([...again, "--json"], { UPLOAD_GATEWAY_KEY: gateway.apiKey });
    expect(await second.exit).toBe(0);
    expect(JSON.parse(second.out()).requestKey).toBe(requestKey);
  });

  it("run as `pnpm -s cli … --json` from the repo, stdout is exactly one JSON line", async () => {
    const repo = join(__dirname, "..", "..", "..");
    const run = runProcess("pnpm", ["-s", "cli", "upload", bigPath, ...target(), "--json"], {
      cwd: repo,
      inheritEnv: true,
      env: { XDG_STATE_HOME: stateDir, UPLOAD_GATEWAY_KEY: gateway.apiKey },
    });
    expect(await run.exit, run.err()).toBe(0);
    const stdout = run.out();
    expect(stdout.endsWith("\n")).toBe(true);
    expect(stdout.trimEnd().split("\n")).toHaveLength(1);
    expect(JSON.parse(stdout)).toMatchObject({ size: 64 * MiB, requestKey: expect.any(String) });
  }, 240_000); // the script runs turbo first (a cache hit after `pnpm test`'s build, a full build otherwise)

  it("continues a killed upload with --resume, sending only the missing parts", async () => {
    const args = [
      "upload",
      bigPath,
      ...target(),
      "--key",
      gateway.apiKey,
      "--resume",
      "--part-size",
      "5MiB",
      "--concurrency",
      "1",
      "--json",
    ];
    const first = cli(args);
    // Kill it once a few parts are stored.
    const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
    let requestKey: string | undefined;
    for (let i = 0; i < 200 && !requestKey; i++) {
      await new Promise((r) => setTimeout(r, 25));
      requestKey = (await api.list(gateway.projectId, { limit: 1 })).uploads.find(
        (u) => u.state === "uploading",
      )?.requestKey;
    }
    expect(requestKey).toBeDefined();
    for (let i = 0; i < 400; i++) {
      if ((await api.get(gateway.projectId, requestKey!)).uploadedParts.length >= 3) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    first.child.kill("SIGKILL");
    await first.exit;
    // A part whose bytes were all sent before the kill may still be landing: wait until no part is being written.
    const writing = () =>
      readdirSync(join(gateway.dir, "data", "multipart"), { recursive: true }).some((f) => String(f).includes(".tmp-"));
    for (let i = 0; i < 200 && writing(); i++) await new Promise((r) => setTimeout(r, 25));
    expect(writing()).toBe(false);
    const stored = (await api.get(gateway.projectId, requestKey!)).uploadedParts.length;
    expect(stored).toBeGreaterThanOrEqual(3);
    expect(stored).toBeLessThan(13);

    const second = cli(args);
    expect(await second.exit).toBe(0);
    const result = JSON.parse(second.out().trim());
    expect(result.requestKey).toBe(requestKey);
    expect(result.partsSent).toBe(13 - stored);
    expect(await downloaded(gateway, requestKey!)).toBe(sha256(big));
  });
});
