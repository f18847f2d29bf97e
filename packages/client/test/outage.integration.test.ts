import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "@upload-gateway/server/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient, type RetryNotice } from "../src/index";
import { uploadFile } from "../src/node";
import { faultsByAttempt, type Fault } from "./support/fault-proxy";
import {
  startGateway,
  startGatewayBehindFaults,
  type Backend,
  type Gateway,
  type GatewayBehindFaults,
} from "./support/gateway";
import { startOutageProxy, type OutageProxy } from "./support/outage-proxy";

const MiB = 1024 * 1024;
/**
 * As long as a store's failover or a Wi-Fi switch, and as long as issue 21 asks (30 s): three times what the
 * uploader's former retries lasted (~10 s), so that only a time budget rides it out.
 */
const OUTAGE_MS = 30_000;
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

let files: string;
beforeAll(() => {
  files = mkdtempSync(join(tmpdir(), "client-outage-"));
});
afterAll(() => rmSync(files, { recursive: true, force: true }));

/**
 * The store unreachable for 30 s in the middle of an upload, through a proxy the test takes down and brings back: on
 * the embedded store the proxy is in front of the whole gateway (its API and its store), on S3 in front of RGW for
 * both the gateway and the client (so the gateway answers 503 STORAGE_UNAVAILABLE meanwhile).
 */
describe.each<Backend>(["local", "s3"])("an outage of the %s store mid-upload", (backend) => {
  let gateway: Gateway;
  let proxy: OutageProxy;
  let apiUrl: string;

  beforeAll(async () => {
    if (backend === "local") {
      gateway = await startGateway("local", {
        publicStore: async (storeUrl) => {
          proxy = await startOutageProxy(storeUrl);
          return proxy.url;
        },
      });
      apiUrl = proxy.url;
    } else {
      proxy = await startOutageProxy(process.env.S3_ENDPOINT!);
      const publicStore = () => Promise.resolve(proxy.url);
      gateway = await startGateway("s3", { publicStore, env: { S3_ENDPOINT: proxy.url } });
      apiUrl = gateway.url;
    }
  });
  afterAll(async () => {
    await gateway?.close();
    await proxy?.close();
  });

  it("is ridden out without a rerun: no stored part is sent again, and the stored file is identical", async () => {
    const data = randomBytes(8 * 5 * MiB);
    const path = join(files, `outage-${backend}.bin`);
    writeFileSync(path, data);
    const notices: RetryNotice[] = [];
    let partsDone = 0;
    const storedBefore: number[] = [];
    let outage: Promise<{ ready?: { status: number; body: string } }> | undefined;
    const cut = async () => {
      await proxy.down();
      const started = Date.now();
      // The gateway stays up on S3 and says its store is gone (on the embedded store, the proxy hides it all).
      const ready =
        backend === "s3"
          ? await fetch(`${gateway.url}/health/ready`).then(async (r) => ({ status: r.status, body: await r.text() }))
          : undefined;
      await sleep(OUTAGE_MS - (Date.now() - started));
      await proxy.up();
      return { ready };
    };
    const result = await uploadFile(path, {
      baseUrl: apiUrl,
      apiKey: gateway.apiKey,
      projectId: gateway.projectId,
      partSize: 5 * MiB,
      concurrency: 2,
      // The default time budget (10 minutes); shorter waits between attempts than the default 30 s cap, so that the
      // upload goes on within seconds of the store's return and the test stays short.
      retry: { maxDelayMs: 2000 },
      onRetry: (notice) => notices.push(notice),
      onPartState: (n, state) => {
        if (state !== "done") return;
        if (!outage) storedBefore.push(n);
        if (++partsDone === 3) outage = cut();
      },
    });
    expect(outage).toBeDefined();
    const { ready } = await outage!;

    expect(result).toMatchObject({ partsNumber: 8, partsSent: 8 });
    const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
    const { downloadPath } = await api.downloadUrl(gateway.projectId, result.requestKey);
    const stored = await fetch(downloadPath);
    expect(stored.status).toBe(200);
    expect(sha256(new Uint8Array(await stored.arrayBuffer()))).toBe(sha256(data));
    // The parts stored before the outage were sent once and never again; no part was stored by two PUTs (one whose
    // reply the outage cut may have been stored by none the proxy saw answered: the resume call told the client).
    expect(storedBefore).toHaveLength(3);
    for (const n of storedBefore) expect(proxy.putsOf(n), `part ${n}`).toBe(1);
    for (let n = 1; n <= 8; n++) expect(proxy.storedPuts(n), `part ${n}`).toBeLessThanOrEqual(1);
    // It was retried for the outage's length, and told who was unreachable.
    expect(notices.some((n) => n.unreachable === "store")).toBe(true);
    if (backend === "s3") {
      expect(ready?.status).toBe(503);
      expect(JSON.parse(ready!.body)).toMatchObject({ errorDetails: [{ code: "STORAGE_UNAVAILABLE" }] });
    } else {
      expect(notices.some((n) => n.unreachable === "gateway")).toBe(true);
    }
  });
});

describe("a part that got no answer twice", () => {
  let gateway: GatewayBehindFaults;
  beforeAll(async () => {
    // Part 2: stored with its reply lost, then an attempt cut off: an outage as the client sees it.
    const faults: Record<number, Fault[]> = { 2: ["lost-reply", "reset"] };
    gateway = await startGatewayBehindFaults(
      "local",
      faultsByAttempt(() => faults),
    );
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it("is sent again only after the resume endpoint says the store does not hold it: here it does", async () => {
    const data = randomBytes(3 * 5 * MiB);
    const path = join(files, "no-answer-twice.bin");
    writeFileSync(path, data);
    const { apiKey, projectId, url } = gateway;
    const retry = { baseDelayMs: 10, maxDelayMs: 50 };
    const options = { baseUrl: url, apiKey, projectId, partSize: 5 * MiB, concurrency: 1, retry };
    const result = await uploadFile(path, options);
    expect(gateway.proxy.log.filter((e) => e.partNumber === 2).map((e) => e.fault)).toEqual(["lost-reply", "reset"]);
    const { downloadPath } = await createApiClient({ baseUrl: url, apiKey }).downloadUrl(projectId, result.requestKey);
    expect(sha256(new Uint8Array(await (await fetch(downloadPath)).arrayBuffer()))).toBe(sha256(data));
  });
});

describe("the CLI while the gateway cannot be reached", () => {
  it("says so on its progress line, with the time the retries go on for", async () => {
    const port = await freePort(); // nothing listens there
    const file = join(files, "cli-outage.bin");
    writeFileSync(file, randomBytes(1000));
    const cli = join(__dirname, "..", "dist", "cli.js");
    const command = `${process.execPath} ${cli} upload ${file} --server http://127.0.0.1:${port} --project p --key k`;
    // On a terminal (the bar is drawn on TTYs only): `script` runs it on a pseudo-terminal.
    const child = spawn("script", ["-qc", command, "/dev/null"], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => {
          output += chunk.toString();
          if (/gateway unreachable, retrying \(9:5\d left\)/.test(output)) resolve();
        });
        child.on("exit", () => reject(new Error(`the CLI ended: ${output}`)));
      });
    } finally {
      process.kill(-child.pid!, "SIGKILL");
    }
    expect(output).toMatch(/\rgateway unreachable, retrying \(9:5\d left\)/);
  });
});
