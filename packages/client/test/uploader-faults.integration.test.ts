import { readFileSync, writeFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient, upload } from "../src/index";
import { uploadFile } from "../src/node";
import { faultsByAttempt, startFaultProxy, type Fault, type FaultProxy } from "./support/fault-proxy";
import {
  startGateway,
  startGatewayBehindFaults,
  type Backend,
  type Gateway,
  type GatewayBehindFaults,
} from "./support/gateway";
import { downloaded, MiB, sha256, useTestFiles } from "./support/test-files";

// The uploader through faults: a faulty network, corrupted parts, pauses counted at the store, lost replies.
const files = useTestFiles();

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
      faultsByAttempt(() => faults),
    );
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it("survives resets, 503s, a stalled part, a refused URL, a wrong ETag and a lost reply; stores the identical file", async () => {
    const data = randomBytes(32 * MiB);
    const path = join(files.dir, `faulty-${backend}.bin`);
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
        faultsByAttempt(() => faults),
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
        const path = join(files.dir, `single-faulty-${backend}.mp4`);
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
      const path = join(files.dir, "opaque.bin");
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
