#!/usr/bin/env node
// `pnpm bench`: issue 6's benchmark, all in one run against one store. Starts its own Ceph RGW (or reuses a running
// one) and the BUILT gateway in S3 mode on it, then measures presigning, start latency, start throughput against a
// bare Fastify ceiling, and uploads from Node against @aws-sdk/lib-storage. Prints tables, writes
// results/scratch.json and .md (not committed); `--update` writes the committed results/latest.json and .md instead
// (with --only=a,b: results/a+b-latest.*). `--quick`: smaller and shorter, written to results/quick.*.
// Everything it makes is removed at the end: servers, temp files, and every upload and object under its S3 prefix.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest, Agent } from "node:http";
import { cpus, freemem, loadavg, release, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import autocannon from "autocannon";
import { startRgw } from "@upload-gateway/ceph-rgw";
import {
  cpuMeter,
  fmt,
  fmtBytes,
  freePort,
  GiB,
  killChildren,
  median,
  MiB,
  quantile,
  randomFile,
  round,
  runNodeJson,
  spawnNode,
  table,
} from "./lib/common.mjs";
import { gatewayUsesFastPresigner, serverDir } from "./lib/fast-presigner.mjs";
import { CreateMultipartUploadCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { emptyPrefix, objectSize, s3Client, startCountingProxy } from "./lib/s3.mjs";
import { benchEmbedded, embeddedReport, embeddedTargets } from "./embedded.mjs";
import { benchBrowserUpload } from "./lib/browser-upload.mjs";
import { benchIdle, idleReport, idleTargets } from "./idle.mjs";
import { benchInspect, inspectReport, inspectTargets } from "./inspect.mjs";
import { benchVerify, verifyReport, verifyTargets } from "./verify.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes("--quick");
const only = process.argv
  .find((a) => a.startsWith("--only="))
  ?.slice("--only=".length)
  .split(",");
// A smaller in-page Blob for the browser section (a try-out: written to quick.*, like --quick).
const browserMiB = Number(
  process.argv.find((a) => a.startsWith("--browser-mib="))?.slice("--browser-mib=".length) ?? NaN,
);
// The committed results change only when asked: a try-out or a run on a busy machine must not overwrite them.
// A full run updates latest.*; a run of some phases (--only) updates their own <phases>-latest.*, so one section can
// be measured again on a quiet machine without the rest.
const update = process.argv.includes("--update");
if (update && (quick || browserMiB)) {
  console.error("bench: --update records real runs only; drop --quick and --browser-mib");
  process.exit(2);
}
const wants = (/** @type {string} */ phase) => !only || only.includes(phase);

const config = quick
  ? {
      presign: { urls: 2_000, rounds: 2, warmup: 500 },
      latency: { 3: 30, 1000: 10, 10000: 3 },
      throughput: { seconds: 6, slices: 2, warmupSeconds: 1, connections: 32 },
      upload: { small: 64 * MiB, large: 256 * MiB, runs: 1, largeRuns: 1, partSize: 16 * MiB, concurrency: 4 },
      embedded: {
        small: 64 * MiB,
        large: 256 * MiB,
        runs: 1,
        largeRuns: 1,
        completeSizes: [64 * MiB, 512 * MiB],
        completeRuns: 1,
        partSize: 16 * MiB,
        concurrency: 4,
      },
      browser: { size: 256 * MiB, partSize: 8 * MiB, concurrency: 4, runs: 1, networkMiBps: 40 },
      idle: { projectCounts: [1, 1_000, 10_000], settleSeconds: 6, measureSeconds: 20 },
      quietLoad: Infinity,
    }
  : {
      presign: { urls: 10_000, rounds: 3, warmup: 2_000 },
      latency: { 3: 200, 1000: 50, 10000: 20 },
      throughput: { seconds: 30, slices: 3, warmupSeconds: 3, connections: 32 },
      upload: { small: 512 * MiB, large: 2 * GiB, runs: 5, largeRuns: 3, partSize: 16 * MiB, concurrency: 4 },
      embedded: {
        small: 512 * MiB,
        large: 2 * GiB,
        runs: 3,
        largeRuns: 1,
        completeSizes: [512 * MiB, 5 * GiB],
        completeRuns: 2,
        partSize: 16 * MiB,
        concurrency: 4,
      },
      // networkMiBps: the second round's upload limit (about 335 Mbit/s), below what the 2 cores manage unlimited.
      browser: { size: 256 * MiB, partSize: 8 * MiB, concurrency: 4, runs: 3, networkMiBps: 40 },
      // A minute of each idle gateway, after its first polls (webhooks every 5 s; expiry every 300 s).
      idle: { projectCounts: [1, 1_000, 10_000], settleSeconds: 10, measureSeconds: 60 },
      // Waits (at most 5 min) for the 1-minute load average to fall below this before measuring.
      quietLoad: 1.5,
    };

if (browserMiB > 0) config.browser.size = browserMiB * MiB;

const log = (/** @type {string} */ line) => process.stderr.write(`bench: ${line}\n`);
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
const sizeLabel = (/** @type {number} */ bytes) => (bytes >= GiB ? `${bytes / GiB} GiB` : `${bytes / MiB} MiB`);

// ---------------------------------------------------------------------------------------------------------------
// Set-up: RGW, a project and key of our own, the gateway

const mainJs = join(serverDir, "dist", "main.js");
if (!existsSync(mainJs)) {
  console.error(`${mainJs} is missing: build the server first (pnpm bench does: turbo run build)`);
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), "upload-gateway-bench-"));
const projectId = `bench-${randomBytes(4).toString("hex")}`;
const prefix = `projects/${projectId}/`;
const apiKey = `bench_${randomBytes(16).toString("hex")}`;
const projectsFile = join(work, "projects.json");
writeFileSync(
  projectsFile,
  JSON.stringify({
    // The start phases make thousands of uploads and leave them open (the start throughput's 32 connections start
    // 100+ a second): the default cap (1,000 open uploads) would soon refuse them all, and the phase would measure
    // refusals. The cap's cost per start is the same under any limit (one conditional PutObject).
    projects: [{ id: projectId, maxOpenUploads: 1_000_000 }],
    apiKeys: [{ name: "bench", sha256: createHash("sha256").update(apiKey).digest("hex"), projects: [projectId] }],
  }),
);

/** @type {{ stop(): Promise<void> }[]} stopped in reverse order at the end */
const toStop = [];
/** @type {Awaited<ReturnType<typeof startRgw>> | undefined} */
let rgw;
/** @type {ReturnType<typeof s3Client> | undefined} */
let s3;
let cleaningUp;

async function cleanUp() {
  cleaningUp ??= (async () => {
    for (const thing of toStop.reverse()) await thing.stop().catch((e) => log(`stop failed: ${e}`));
    if (s3 && rgw) {
      try {
        const { abortedUploads, deletedObjects } = await emptyPrefix(s3, rgw.env.S3_BUCKET, prefix);
        log(`cleaned ${prefix}: aborted ${abortedUploads} uploads, deleted ${deletedObjects} objects`);
      } catch (error) {
        log(`cleaning ${prefix} failed: ${error}`);
      }
      s3.destroy();
    }
    rmSync(work, { recursive: true, force: true });
    if (rgw) await rgw.stop().catch((e) => log(`stopping RGW failed: ${e}`));
  })();
  return cleaningUp;
}
// Ctrl-C: stop the child processes so that the current phase ends, skip the rest, clean up (in the main flow's
// `finally`) and exit 130. A second Ctrl-C exits at once.
let interrupted = false;
for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM"])) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping, then cleaning up (again to quit at once)`);
    killChildren();
  });
}
const checkInterrupted = () => {
  if (interrupted) throw new Error("interrupted");
};

/** Starts the built gateway in S3 mode. @param {Record<string, string>} s3Env */
async function startGateway(s3Env, name = "gateway") {
  const port = await freePort();
  const env = {
    PATH: process.env.PATH ?? "",
    ...s3Env,
    STORAGE: "s3",
    PROJECTS_FILE: projectsFile,
    HOST: "127.0.0.1",
    PORT: String(port),
    LOG_LEVEL: "warn",
    // The benchmark measures the gateway's work, not its rate limiter (hundreds of starts a second from one key).
    RATE_LIMIT_PER_MINUTE: "0",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
  const proc = await spawnNode(mainJs, [], { env, readyPattern: /running at (\S+?)\/?\n/, name });
  toStop.push(proc);
  return { ...proc, url: `http://127.0.0.1:${port}` };
}

// ---------------------------------------------------------------------------------------------------------------
// Start requests

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** The start body for `parts` parts: the largest file the plan allows, 5 MiB a part. @param {number} parts */
const startBody = (parts) =>
  JSON.stringify({
    partsNumber: parts,
    fileName: "bench.mp4",
    contentLength: String(parts * 5 * MiB),
    mimeType: "video/mp4",
  });

/**
 * One start through the gateway, timed from sending the request to the reply's last byte.
 * @param {string} baseUrl
 * @param {number} parts
 */
function timedStart(baseUrl, parts) {
  const body = startBody(parts);
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = httpRequest(
      `${baseUrl}/api/projects/${projectId}/uploads/multipart`,
      {
        method: "POST",
        agent,
        headers: {
          authorization: `Bearer ${apiKey}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          "accept-encoding": "gzip",
        },
      },
      (res) => {
        /** @type {Buffer[]} */
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const ms = Number(process.hrtime.bigint() - t0) / 1e6;
          const wire = Buffer.concat(chunks);
          const encoding = res.headers["content-encoding"] ?? "identity";
          const raw = encoding === "gzip" ? gunzipSync(wire) : wire;
          if (res.statusCode !== 201 && res.statusCode !== 200)
            return reject(new Error(`start ${parts}: ${res.statusCode} ${raw.toString().slice(0, 500)}`));
          const urls = JSON.parse(raw.toString()).result?.presignedUrl?.length;
          if (urls !== parts) return reject(new Error(`start ${parts}: ${urls} URLs in the reply`));
          resolve({ ms, wireBytes: wire.length, rawBytes: raw.length, encoding });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The phases

/** 1. µs per presigned URL, in a process of its own. @param {Record<string, string>} s3Env */
async function benchPresign(s3Env) {
  const { urls, rounds, warmup } = config.presign;
  log(`presign: ${fmt(urls)} URLs × ${rounds} rounds for each presigner`);
  return runNodeJson(join(here, "presign.mjs"), [String(urls), String(rounds), String(warmup)], {
    env: s3Env,
    name: "presign.mjs",
  });
}

/**
 * The floor under any start: the two S3 requests alone, sent sequentially with the SDK from this process.
 * @param {string} bucket
 * @param {number} samples
 */
async function s3Floor(bucket, samples) {
  const client = /** @type {NonNullable<typeof s3>} */ (s3);
  const create = [];
  const put = [];
  for (let i = 0; i < samples + 3; i++) {
    const Key = `${prefix}floor/${i}`;
    let t0 = performance.now();
    await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key, ContentType: "video/mp4" }));
    const createMs = performance.now() - t0;
    t0 = performance.now();
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${Key}.json`,
        Body: JSON.stringify({ i, state: "uploading" }),
        ContentType: "application/json",
      }),
    );
    const putMs = performance.now() - t0;
    if (i >= 3) {
      create.push(createMs);
      put.push(putMs);
    }
  }
  const p50 = (/** @type {number[]} */ xs) =>
    round(
      quantile(
        xs.sort((a, b) => a - b),
        0.5,
      ),
    );
  return { samples, createMultipartUploadP50Ms: p50(create), putObjectP50Ms: p50(put) };
}

/** 2. Sequential starts of 3, 1,000 and 10,000 parts. @param {Gateway} gateway @param {string} bucket */
async function benchStartLatency(gateway, bucket) {
  const baseUrl = gateway.url;
  const meter = cpuMeter([/** @type {number} */ (gateway.child.pid)]);
  /** @type {Record<string, unknown>} */
  const out = { acceptEncoding: "gzip", sequential: true };
  log("start latency: S3 alone (CreateMultipartUpload, PutObject)");
  out.s3Alone = await s3Floor(bucket, quick ? 10 : 50);
  for (const [partsText, samples] of Object.entries(config.latency)) {
    const parts = Number(partsText);
    log(`start latency: ${fmt(parts)} parts × ${samples}`);
    for (let i = 0; i < Math.max(2, Math.ceil(samples / 10)); i++) await timedStart(baseUrl, parts); // warm-up
    const runs = [];
    checkInterrupted();
    for (let i = 0; i < samples; i++)
      runs.push(
        /** @type {{ ms: number, wireBytes: number, rawBytes: number, encoding: string }} */ (
          await timedStart(baseUrl, parts)
        ),
      );
    const ms = runs.map((r) => r.ms).sort((a, b) => a - b);
    out[partsText] = {
      samples,
      p50Ms: round(quantile(ms, 0.5)),
      p99Ms: round(quantile(ms, 0.99)),
      meanMs: round(ms.reduce((a, b) => a + b, 0) / ms.length),
      minMs: round(ms[0]),
      maxMs: round(ms[ms.length - 1]),
      replyBytes: runs[0].wireBytes,
      replyRawBytes: runs[0].rawBytes,
      contentEncoding: runs[0].encoding,
    };
  }
  out.otherLoadCores = round(meter.stop().otherCores, 2);
  return out;
}

/**
 * autocannon against one server's start endpoint for `seconds`, with the CPU that server, this process (autocannon),
 * the store and the rest of the machine spent meanwhile.
 * @param {string} baseUrl
 * @param {number} seconds
 * @param {number} serverPid
 */
async function cannon(baseUrl, seconds, serverPid) {
  const meter = cpuMeter([serverPid]);
  const result = await autocannon({
    url: `${baseUrl}/api/projects/${projectId}/uploads/multipart`,
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: startBody(3),
    connections: config.throughput.connections,
    duration: seconds,
  });
  const cpu = meter.stop();
  return {
    ok: /** @type {number} */ (/** @type {Record<string, unknown>} */ (result)["2xx"]),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds: result.duration,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    cpu,
  };
}

/** One server's slices, summed up. @param {Awaited<ReturnType<typeof cannon>>[]} slices */
function throughputOf(slices) {
  const sum = (/** @type {(x: (typeof slices)[number]) => number} */ f) => slices.reduce((a, x) => a + f(x), 0);
  const ok = sum((x) => x.ok);
  const wallMs = sum((x) => x.cpu.wallMs);
  return {
    requestsPerSecond: round(ok / sum((x) => x.seconds), 1),
    ok,
    non2xx: sum((x) => x.non2xx),
    errors: sum((x) => x.errors),
    timeouts: sum((x) => x.timeouts),
    seconds: sum((x) => x.seconds),
    latencyP50Ms: median(slices.map((x) => x.latencyP50Ms)),
    latencyP99Ms: Math.max(...slices.map((x) => x.latencyP99Ms)),
    cpu: {
      serverMsPerStart: round(sum((x) => x.cpu.pidsMs) / ok, 3),
      storeMsPerStart: round(sum((x) => x.cpu.storeMs) / ok, 3),
      autocannonMsPerStart: round(sum((x) => x.cpu.selfMs) / ok, 3),
      machineBusyPercent: round(sum((x) => x.cpu.busyPercent * x.cpu.wallMs) / wallMs, 1),
      otherLoadCores: round(sum((x) => x.cpu.otherCores * x.cpu.wallMs) / wallMs, 2),
    },
    slices: slices.map((x) => ({
      requestsPerSecond: round(x.ok / x.seconds, 1),
      otherLoadCores: round(x.cpu.otherCores, 2),
    })),
  };
}

/**
 * 3. Start throughput, 3 parts: the gateway vs the bare Fastify ceiling, in alternating slices so that other work on
 * the machine weighs on both alike; and what one start costs in S3 requests.
 * @param {{ url: string, child: import("node:child_process").ChildProcess }} gatewayProc
 * @param {Record<string, string>} s3Env
 */
async function benchStartThroughput(gatewayProc, s3Env) {
  const { seconds, slices, warmupSeconds, connections } = config.throughput;
  const fastPresigner = gatewayUsesFastPresigner();
  const presigner = fastPresigner
    ? "SigV4Presigner (the gateway's, as the gateway does)"
    : "getSignedUrl (as the gateway does)";

  // What one start costs: a second gateway whose S3 traffic goes through a counting proxy.
  const proxy = await startCountingProxy(s3Env.S3_ENDPOINT);
  toStop.push({ stop: () => proxy.close().then(() => undefined) });
  const counted = await startGateway(
    { ...s3Env, S3_ENDPOINT: proxy.url, S3_PUBLIC_ENDPOINT: s3Env.S3_ENDPOINT },
    "gateway (counted)",
  );
  await timedStart(counted.url, 3);
  const countedStarts = 10;
  proxy.take();
  for (let i = 0; i < countedStarts; i++) await timedStart(counted.url, 3);
  const perStart = Object.fromEntries(Object.entries(proxy.take()).map(([op, n]) => [op, n / countedStarts]));
  await counted.stop();
  await proxy.close();
  const s3RequestsPerStart = Object.values(perStart).reduce((a, b) => a + b, 0);

  const port = await freePort();
  const ceilingProc = await spawnNode(join(here, "ceiling.mjs"), [String(port), fastPresigner ? "fast" : "sdk"], {
    env: s3Env,
    readyPattern: /ceiling listening at (\S+) presigning with (\S+)/,
    name: "ceiling.mjs",
  });
  toStop.push(ceilingProc);
  const servers = {
    gateway: {
      url: gatewayProc.url,
      pid: /** @type {number} */ (gatewayProc.child.pid),
      slices: /** @type {Awaited<ReturnType<typeof cannon>>[]} */ ([]),
    },
    ceiling: {
      url: ceilingProc.match[1],
      pid: /** @type {number} */ (ceilingProc.child.pid),
      slices: /** @type {Awaited<ReturnType<typeof cannon>>[]} */ ([]),
    },
  };
  for (const server of Object.values(servers)) await cannon(server.url, warmupSeconds, server.pid);
  const sliceSeconds = Math.round(seconds / slices);
  log(
    `start throughput: gateway and bare Fastify ceiling, ${slices} alternating slices of ${sliceSeconds} s each, ${connections} connections`,
  );
  for (let i = 0; i < slices; i++) {
    checkInterrupted();
    const order = i % 2 === 0 ? [servers.gateway, servers.ceiling] : [servers.ceiling, servers.gateway];
    for (const server of order) server.slices.push(await cannon(server.url, sliceSeconds, server.pid));
  }
  await ceilingProc.stop();
  const gateway = throughputOf(servers.gateway.slices);
  const ceiling = throughputOf(servers.ceiling.slices);

  return {
    parts: 3,
    connections,
    seconds: sliceSeconds * slices,
    slices,
    gateway,
    ceiling: {
      ...ceiling,
      presigner: ceilingProc.match[2],
      what: `bare Fastify (ceiling.mjs): CreateMultipartUpload + PutObject of a JSON record + 3 UploadPart URLs with ${presigner}; no auth, validation or envelope`,
    },
    ratio: round(gateway.requestsPerSecond / ceiling.requestsPerSecond, 3),
    s3RequestsPerStart: {
      measured: s3RequestsPerStart,
      byOperation: perStart,
      why:
        "a conditional PutObject takes one of the project's open-upload places (maxOpenUploads, across replicas) while " +
        "CreateMultipartUpload makes the upload and its id; then PutObject stores the upload's record (plan, state, file " +
        "name) in the bucket, because the gateway keeps no state of its own (any replica serves any request): 3 requests, " +
        "2 in sequence. The project's first start in each expiry window adds a PutObject (its due-index entry) alongside. " +
        "The part URLs are presigned locally, with no request. A duplicate check (enableDuplicateCheck) and an " +
        "Idempotency-Key each add a conditional PutObject alongside the first step.",
    },
  };
}

/**
 * @typedef {{ seconds: number, mibPerSecond: number, cpuSeconds: number, peakRss: number, baselineRss: number, loadedRss: number,
 *   rssByQuarter: number[], peakHeapTotal: number, peakArrayBuffers: number, retries?: number, otherLoadCores: number }} UploadRun
 * @typedef {{ url: string, child: import("node:child_process").ChildProcess }} Gateway
 */

/**
 * One upload by one contender in its own process; checks the object's size, then deletes everything under the prefix.
 * @param {string} contender
 * @param {string} file
 * @param {number} size
 * @param {Gateway} gateway
 * @param {Record<string, string>} s3Env
 */
async function uploadOnce(contender, file, size, gateway, s3Env) {
  const { partSize, concurrency } = config.upload;
  const options = { baseUrl: gateway.url, apiKey, projectId, partSize, concurrency };
  const meter = cpuMeter([/** @type {number} */ (gateway.child.pid)]);
  const result = /** @type {UploadRun & { key: string }} */ (
    await runNodeJson(join(here, "upload-worker.mjs"), [contender, file, JSON.stringify(options)], {
      env: s3Env,
      name: `upload-worker ${contender}`,
      timeoutMs: 10 * 60_000,
    })
  );
  // The worker's own CPU is known (it reports it); what none of us used was other work on the machine.
  result.otherLoadCores = round(meter.stop(result.cpuSeconds * 1000).otherCores, 2);
  const stored = await objectSize(/** @type {NonNullable<typeof s3>} */ (s3), s3Env.S3_BUCKET, result.key);
  if (stored !== size) throw new Error(`${contender}: the stored object has ${stored} bytes, not ${size}`);
  await emptyPrefix(/** @type {NonNullable<typeof s3>} */ (s3), s3Env.S3_BUCKET, prefix);
  log(
    `  ${contender.padEnd(13)} ${sizeLabel(size)}: ${fmt(result.mibPerSecond, 1)} MiB/s, peak RSS ${fmtBytes(result.peakRss)}`,
  );
  await sleep(2_000); // lets RGW's gc free the deleted data and the machine settle before the next one
  const { key: _key, seconds, mibPerSecond, cpuSeconds, retries, ...memory } = result;
  if (retries) log(`  (${contender} re-sent ${retries} parts)`);
  if (memory.otherLoadCores > 0.25)
    log(`  (other work on the machine meanwhile: ${fmt(memory.otherLoadCores, 2)} cores)`);
  return {
    seconds: round(seconds, 3),
    mibPerSecond: round(mibPerSecond, 1),
    cpuSeconds: round(cpuSeconds, 2),
    ...memory,
    ...(retries === undefined ? {} : { retries }),
  };
}

/**
 * Several runs of each contender, in rotating order; medians of MiB/s and peak RSS.
 * @param {string[]} contenders
 * @param {number} size
 * @param {number} runs
 * @param {Gateway} gateway
 * @param {Record<string, string>} s3Env
 */
async function uploadRound(contenders, size, runs, gateway, s3Env) {
  const file = join(work, `bench-${sizeLabel(size).replace(" ", "")}.mp4`);
  log(`upload: writing ${sizeLabel(size)} of random bytes to ${file}`);
  randomFile(file, size);
  /** @type {Record<string, UploadRun[]>} */
  const all = Object.fromEntries(contenders.map((c) => [c, []]));
  try {
    for (let r = 0; r < runs; r++) {
      const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]);
      for (const contender of order) {
        checkInterrupted();
        all[contender].push(await uploadOnce(contender, file, size, gateway, s3Env));
      }
    }
  } finally {
    rmSync(file, { force: true });
  }
  /** @type {Record<string, { mibPerSecond: number, peakRss: number, loadedRss: number, peakHeapTotal: number, peakArrayBuffers: number, cpuSecondsPerGiB: number, runs: UploadRun[] }>} */
  const out = {};
  for (const [contender, list] of Object.entries(all)) {
    const m = (/** @type {(x: UploadRun) => number} */ f) => median(list.map(f));
    out[contender] = {
      mibPerSecond: m((x) => x.mibPerSecond),
      peakRss: m((x) => x.peakRss),
      loadedRss: m((x) => x.loadedRss),
      peakHeapTotal: m((x) => x.peakHeapTotal),
      peakArrayBuffers: m((x) => x.peakArrayBuffers),
      cpuSecondsPerGiB: round(m((x) => x.cpuSeconds) / (size / GiB), 2),
      otherLoadCores: m((x) => x.otherLoadCores),
      runs: list,
    };
  }
  return out;
}

/** 4. Uploads from Node: ours vs lib-storage vs raw presigned PUTs; then ours and lib-storage on a 4× larger file. */
async function benchUpload(/** @type {Gateway} */ gateway, /** @type {Record<string, string>} */ s3Env) {
  const { small, large, runs, largeRuns, partSize, concurrency } = config.upload;
  log(
    `upload: ${sizeLabel(small)} × ${runs} runs per contender, part size ${sizeLabel(partSize)}, concurrency ${concurrency}`,
  );
  const smallResults = await uploadRound(["lib-storage", "client", "raw-presigned"], small, runs, gateway, s3Env);
  const base = smallResults["lib-storage"];
  for (const [name, r] of Object.entries(smallResults)) {
    Object.assign(r, {
      speedVsLibStorage: round(r.mibPerSecond / base.mibPerSecond, 3),
      peakRssVsLibStorage: round(r.peakRss / base.peakRss, 3),
    });
  }
  log(`upload: ${sizeLabel(large)} × ${largeRuns} runs for client and lib-storage`);
  const largeResults = await uploadRound(["lib-storage", "client"], large, largeRuns, gateway, s3Env);
  for (const [name, r] of Object.entries(largeResults)) {
    Object.assign(r, {
      speedVsLibStorage: round(r.mibPerSecond / largeResults["lib-storage"].mibPerSecond, 3),
      peakRssVsLibStorage: round(r.peakRss / largeResults["lib-storage"].peakRss, 3),
      peakRssVsSmallFile: round(r.peakRss / smallResults[name].peakRss, 3),
    });
  }
  return {
    partSize,
    concurrency,
    baseline: "lib-storage",
    contenders: {
      client:
        "@upload-gateway/client/node uploadFile: start via the gateway, parts streamed from disk over node:http, MD5 of each part checked against its ETag",
      "lib-storage": "@aws-sdk/lib-storage Upload straight to S3 with the S3 credentials, Body = fs.createReadStream",
      "raw-presigned":
        "start via the gateway, fetch PUT of each part (read at its offset into a reused buffer) to the presigned URLs, complete via the gateway; no retries or checks",
    },
    peakRssIs:
      "VmHWM of the contender's own process (kernel-tracked peak resident set), Node runtime and the contender's modules included; loadedRss ('RSS before') is the process's RSS once its modules are loaded, before the upload; peakHeapTotal ('V8 heap') and peakArrayBuffers ('Buffers') are the largest process.memoryUsage() heapTotal and arrayBuffers sampled every 20 ms during the upload",
    small: { size: small, label: sizeLabel(small), runs, results: smallResults },
    large: { size: large, label: sizeLabel(large), runs: largeRuns, results: largeResults },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Targets and report

/** Runs git in the repository; its trimmed output, or undefined when git is missing or fails. @param {string[]} args */
function git(args) {
  return new Promise((resolve) => {
    const child = spawn("git", args, { cwd: here });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    child.on("close", (code) => resolve(code === 0 ? out.trim() : undefined));
    child.on("error", () => resolve(undefined));
  });
}

/** @param {any} r the results */
function targets(r) {
  const ran = (/** @type {any} */ phase) => (phase && !phase.error ? phase : undefined); // failed phases: no figures
  const p = ran(r.presign);
  const oursOk = p?.ours?.available === true;
  const lat = ran(r.startLatency)?.["10000"];
  const thr = ran(r.startThroughput);
  const up = ran(r.upload)?.small?.results;
  const upLarge = ran(r.upload)?.large?.results;
  /** @type {{ name: string, target: string, actual: string, met: boolean }[]} */
  const list = [];
  const add = (
    /** @type {string} */ name,
    /** @type {string} */ target,
    /** @type {string} */ actual,
    /** @type {boolean} */ met,
  ) => list.push({ name, target, actual, met });
  if (p) {
    add(
      "presign µs/URL",
      "≤ 5 µs",
      oursOk ? `${fmt(p.ours.usPerUrl, 2)} µs` : "not available",
      oursOk && p.ours.usPerUrl <= 5,
    );
    add(
      "presign vs getSignedUrl",
      "≥ 50× faster",
      oursOk ? `${fmt(p.ours.speedup, 1)}×` : "not available",
      oursOk && p.ours.speedup >= 50,
    );
  }
  if (lat) add("10,000-part start p50", "≤ 150 ms", `${fmt(lat.p50Ms, 1)} ms`, lat.p50Ms <= 150);
  const small = ran(r.startLatency)?.["3"];
  const floor = ran(r.startLatency)?.s3Alone;
  if (small && floor) {
    const x = small.p50Ms / floor.createMultipartUploadP50Ms;
    add("3-part start p50 vs the store's CreateMultipartUpload (issue 21)", "≤ 1.3×", `${fmt(x, 2)}×`, x <= 1.3);
  }
  if (lat && p?.getSignedUrl) {
    const loopMs = (p.getSignedUrl.usPerUrl * 10_000) / 1000;
    const x = loopMs / lat.p50Ms;
    add(
      "10,000-part start vs the SDK's getSignedUrl loop (issue 21)",
      "≥ 15×",
      `${fmt(x, 1)}× (loop ${fmt(loopMs, 0)} ms)`,
      x >= 15,
    );
  }
  if (thr) add("start throughput vs ceiling", "≥ 0.8×", `${fmt(thr.ratio, 2)}×`, thr.ratio >= 0.8);
  if (up) {
    const c = up.client;
    add(
      `upload MiB/s vs lib-storage (${r.upload.small.label})`,
      "≥ 1.0×",
      `${fmt(c.speedVsLibStorage, 2)}×`,
      c.speedVsLibStorage >= 1.0,
    );
    add(
      `upload peak RSS vs lib-storage (${r.upload.small.label})`,
      "≤ 0.6×",
      `${fmt(c.peakRssVsLibStorage, 2)}×`,
      c.peakRssVsLibStorage <= 0.6,
    );
  }
  if (upLarge) {
    const g = upLarge.client.peakRssVsSmallFile;
    add(
      `client peak RSS ${r.upload.large.label} vs ${r.upload.small.label}`,
      "within 10%",
      `${fmt(g, 2)}× (${g >= 1 ? "+" : ""}${fmt((g - 1) * 100, 1)}%)`,
      Math.abs(g - 1) <= 0.1,
    );
  }
  const b = ran(r.browserUpload);
  if (b?.results) {
    /** @param {string} where @param {{ results: any, verificationCost: number }} round */
    const browserTargets = (where, { results, verificationCost }) => {
      const x = results.client.speedVsRawFetch;
      add(`browser upload, verification on, vs raw fetch, ${where} (issue 11)`, "≥ 0.9×", `${fmt(x, 2)}×`, x >= 0.9);
      const u = results.client.speedVsUppy;
      add(
        `browser upload, verification on, vs Uppy 5 through @upload-gateway/uppy, ${where} (issue 11)`,
        "≥ 1.0×",
        `${fmt(u, 2)}×`,
        u >= 1.0,
      );
      add(
        `browser upload, what verification costs (ours on vs off), ${where} (issue 11)`,
        "< 10%",
        `${fmt(verificationCost * 100, 1)}%`,
        verificationCost < 0.1,
      );
    };
    browserTargets("no network limit", b);
    if (b.networkBound) browserTargets(`upload limited to ${b.networkBound.uploadMiBps} MiB/s`, b.networkBound);
    const p95 = b.pageResponsiveness.p95Ms;
    add(
      "page responsiveness during our browser upload: a trivial task's round trip, p95 (issue 15)",
      "≤ 50 ms",
      `${fmt(p95, 1)} ms`,
      p95 <= 50,
    );
  }
  return list;
}

/** The report as Markdown tables. @param {any} r */
function report(r) {
  const parts = [];
  parts.push(
    `Run on ${r.machine.date} of commit ${r.machine.commit?.slice(0, 12) ?? "unknown"}${r.machine.uncommittedChanges ? " with uncommitted changes" : ""}; ` +
      `machine: ${r.machine.cpuModel} × ${r.machine.cpus}, ${fmtBytes(r.machine.memoryBytes)} RAM, Node ${r.machine.node}, Linux ${r.machine.kernel}` +
      `${r.machine.quick ? " — QUICK run (--quick), not the real one" : ""}`,
  );
  const noise = [
    ["start latency", r.startLatency?.otherLoadCores],
    ["gateway throughput", r.startThroughput?.gateway?.cpu?.otherLoadCores],
    ["ceiling throughput", r.startThroughput?.ceiling?.cpu?.otherLoadCores],
    ...Object.entries(r.upload?.small?.results ?? {}).map(([n, x]) => [
      `${n} ${r.upload.small.label}`,
      /** @type {any} */ (x).otherLoadCores,
    ]),
    ...Object.entries(r.upload?.large?.results ?? {}).map(([n, x]) => [
      `${n} ${r.upload.large.label}`,
      /** @type {any} */ (x).otherLoadCores,
    ]),
  ].filter(([, v]) => typeof v === "number");
  if (noise.length) {
    parts.push(
      `Unattributed CPU while measuring (busy time that neither the bench, the servers, the uploaders nor the store's processes account for: other work on the machine, and the kernel's network softirqs), in cores of ${r.machine.cpus}: ` +
        noise.map(([n, v]) => `${n} ${fmt(/** @type {number} */ (v), 2)}`).join(", ") +
        ".",
    );
  }
  if (r.presign?.error) parts.push(`Presign: failed: ${r.presign.error}`);
  else if (r.presign) {
    const p = r.presign;
    const rows = [
      [
        "SigV4Presigner (ours)",
        p.ours.available ? fmt(p.ours.usPerUrl, 2) : "not available",
        p.ours.available ? `${fmt(p.ours.speedup, 1)}×` : "—",
      ],
      ["@smithy/signature-v4 presign", fmt(p.smithyPresign.usPerUrl, 2), `${fmt(p.smithyPresign.speedup, 1)}×`],
      ["@aws-sdk/s3-request-presigner getSignedUrl", fmt(p.getSignedUrl.usPerUrl, 2), "1×"],
    ];
    parts.push(
      `**Presigning** one UploadPart URL (median of ${p.rounds} rounds of ${fmt(p.urlsPerRound)} URLs)\n\n${table(["presigner", "µs/URL", "vs getSignedUrl"], rows)}`,
    );
    if (!p.ours.available) parts.push(p.ours.reason);
  }
  parts.push(...idleReport(r.idle));
  if (r.startLatency?.error) parts.push(`Start latency: failed: ${r.startLatency.error}`);
  else if (r.startLatency) {
    const floor = r.startLatency.s3Alone;
    const rows = Object.entries(r.startLatency)
      .filter(([n, v]) => typeof v === "object" && /^\d+$/.test(n))
      .map(([n, v]) => [
        fmt(Number(n)),
        fmt(v.p50Ms, 1),
        fmt(v.p99Ms, 1),
        fmt(v.samples),
        `${fmtBytes(v.replyBytes)} (${v.contentEncoding})`,
        fmtBytes(v.replyRawBytes),
      ]);
    parts.push(
      `**Start latency**, sequential, \`accept-encoding: gzip\`, on RGW\n\n${table(["parts", "p50 ms", "p99 ms", "samples", "reply", "reply raw"], rows)}` +
        (floor
          ? `\n\nThe store alone, same client machine: CreateMultipartUpload p50 ${fmt(floor.createMultipartUploadP50Ms, 1)} ms, PutObject p50 ${fmt(floor.putObjectP50Ms, 1)} ms (SDK, sequential; RGW's frontend ${r.machine.rgw?.tcpNoDelay ? "with" : "without"} tcp_nodelay).`
          : ""),
    );
  }
  if (r.startThroughput?.error) parts.push(`Start throughput: failed: ${r.startThroughput.error}`);
  else if (r.startThroughput) {
    const t = r.startThroughput;
    const row = (/** @type {string} */ name, /** @type {any} */ x) => [
      name,
      fmt(x.requestsPerSecond, 0),
      fmt(x.latencyP50Ms, 0),
      fmt(x.latencyP99Ms, 0),
      fmt(x.non2xx + x.errors),
      fmt(x.cpu.serverMsPerStart, 2),
      fmt(x.cpu.storeMsPerStart, 2),
      `${fmt(x.cpu.machineBusyPercent, 0)}%`,
      fmt(x.cpu.otherLoadCores, 2),
    ];
    parts.push(
      `**Start throughput**, 3 parts, ${t.connections} connections, ${t.seconds} s each in ${t.slices} alternating slices (autocannon in the bench process)\n\n` +
        table(
          [
            "server",
            "starts/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "server CPU ms/start",
            "store CPU ms/start",
            "machine busy",
            "other load (cores)",
          ],
          [row("gateway", t.gateway), row(`bare Fastify ceiling (${t.ceiling.presigner})`, t.ceiling)],
        ) +
        `\n\ngateway / ceiling = **${fmt(t.ratio, 2)}×**. One start costs ${fmt(t.s3RequestsPerStart.measured, 1)} S3 requests (measured: ${Object.entries(
          t.s3RequestsPerStart.byOperation,
        )
          .map(([op, n]) => `${op} ${fmt(n, 1)}`)
          .join(", ")}): ${t.s3RequestsPerStart.why}`,
    );
  }
  if (r.upload?.error) parts.push(`Upload: failed: ${r.upload.error}`);
  else if (r.upload) {
    const u = r.upload;
    const rows = [];
    for (const [round_, label] of /** @type {const} */ ([
      ["small", u.small.label],
      ["large", u.large.label],
    ])) {
      for (const [name, x] of Object.entries(u[round_].results)) {
        rows.push([
          `${name} ${label}`,
          fmt(x.mibPerSecond, 0),
          fmtBytes(x.peakRss),
          fmtBytes(x.loadedRss),
          fmtBytes(x.peakHeapTotal),
          fmtBytes(x.peakArrayBuffers),
          fmt(x.cpuSecondsPerGiB, 2),
          `${fmt(x.speedVsLibStorage, 2)}×`,
          `${fmt(x.peakRssVsLibStorage, 2)}×`,
        ]);
      }
    }
    parts.push(
      `**Upload from Node**, part size ${fmtBytes(u.partSize)}, ${u.concurrency} parts at once, each contender in its own process ` +
        `(medians of ${u.small.runs} runs for ${u.small.label}, ${u.large.runs} for ${u.large.label})\n\n${table(["contender", "MiB/s", "peak RSS", "RSS before", "V8 heap", "Buffers", "CPU s/GiB", "speed vs lib-storage", "peak RSS vs lib-storage"], rows)}` +
        `\n\nOur client's peak RSS, ${u.large.label} / ${u.small.label}: ${fmt(u.large.results.client.peakRssVsSmallFile, 2)}× (lib-storage: ${fmt(u.large.results["lib-storage"].peakRssVsSmallFile, 2)}×). ` +
        `Its RSS in each quarter of the ${u.large.label} upload: ${u.large.results.client.runs.map((/** @type {UploadRun} */ x) => x.rssByQuarter.map((b) => fmt(b / MiB, 0)).join(" → ")).join("; ")} MiB.`,
    );
  }
  if (r.embedded) parts.push(embeddedReport(r.embedded));
  if (r.inspect) parts.push(inspectReport(r.inspect));
  if (r.verify) parts.push(verifyReport(r.verify));
  if (r.browserUpload?.error) parts.push(`Browser upload: failed: ${r.browserUpload.error}`);
  else if (r.browserUpload) {
    const b = r.browserUpload;
    /** @param {{ results: Record<string, any>, verificationCost: number }} round */
    const roundTable = ({ results, verificationCost }) =>
      `${table(
        ["contender", "MiB/s", "vs raw fetch", "vs Uppy 5", "Chromium CPU s/GiB", "RGW CPU s/GiB", "gateway CPU s/GiB"],
        Object.entries(results).map(([name, x]) => [
          name,
          fmt(x.mibPerSecond, 1),
          `${fmt(x.speedVsRawFetch, 2)}×`,
          `${fmt(x.speedVsUppy, 2)}×`,
          fmt(x.chromiumCpuSecondsPerGiB, 2),
          fmt(x.storeCpuSecondsPerGiB, 2),
          fmt(x.gatewayCpuSecondsPerGiB, 2),
        ]),
      )}\n\nWhat verification costs our client (its speed with it on vs off): ${fmt(verificationCost * 100, 1)}%.` +
      (results["raw-fetch+sha256"]
        ? ` The floor for any uploader that checks every byte, in the same run: raw fetch with each part first read into a worker, ` +
          `${fmt(results["raw-fetch+read"].speedVsRawFetch, 2)}× raw fetch; read and hashed there by native SHA-256, ${fmt(results["raw-fetch+sha256"].speedVsRawFetch, 2)}×.`
        : "");
    parts.push(
      `**Upload from Chromium** ${b.chromium}, a picked file of ${fmtBytes(b.size)}, ${fmtBytes(b.partSize)} parts, ${b.concurrency} at once, ` +
        `to RGW cross-origin (medians of ${b.runs}). With no network limit, the machine's CPU is the limit (Chromium, RGW and the gateway share its ` +
        `${r.machine.cpus} cores):\n\n${roundTable(b)}` +
        (b.networkBound
          ? `\n\nWith Chromium's upload limited to ${b.networkBound.uploadMiBps} MiB/s (DevTools network emulation), the network is the limit, as where the store is on another machine:\n\n${roundTable(b.networkBound)}`
          : "") +
        `\n\nThe page during our client's uploads: a trivial task (a message to itself, every 25 ms) waited ${fmt(b.pageResponsiveness.medianMs, 1)} ms (median), ` +
        `${fmt(b.pageResponsiveness.p95Ms, 1)} ms (p95), ${fmt(b.pageResponsiveness.maxMs, 1)} ms at most, over ${b.pageResponsiveness.roundTrips} round trips.`,
    );
  }
  parts.push(
    `**Targets** (issues 6, 10, 11, 15 and 20)\n\n${table(
      ["target", "wanted", "actual", "met"],
      r.targets.map((t) => [t.name, t.target, t.actual, t.met ? "yes" : "**no**"]),
    )}`,
  );
  return parts.join("\n\n");
}

// ---------------------------------------------------------------------------------------------------------------

/** @type {any} */
const results = {
  machine: {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model?.trim() ?? "unknown",
    memoryBytes: totalmem(),
    freeMemoryBytesAtStart: freemem(),
    loadAverageAtStart: loadavg().map((x) => round(x)),
    kernel: release(),
    date: new Date().toISOString(),
    quick,
  },
  config,
};

/** Waits (at most 5 min) for the machine's 1-minute load average to fall below `config.quietLoad`. */
async function waitForQuiet() {
  if (process.argv.includes("--no-wait")) return 0;
  const t0 = Date.now();
  while (loadavg()[0] >= config.quietLoad && Date.now() - t0 < 5 * 60_000) {
    log(`waiting for the machine to quiet down (1-min load ${fmt(loadavg()[0], 2)} ≥ ${config.quietLoad})`);
    await sleep(15_000);
  }
  return round((Date.now() - t0) / 1000, 0);
}

let failed = false;
try {
  results.machine.waitedForQuietSeconds = await waitForQuiet();
  results.machine.loadAverageAtStart = loadavg().map((x) => round(x));
  log("starting Ceph RGW (startRgw)");
  // Ceph's own frontend setting (Nagle's algorithm on), the one issue 21's start goals were set against: there
  // CreateMultipartUpload's reply waits for a delayed ACK (~40 ms) and a PutObject's does not. The tests' RGW turns
  // tcp_nodelay on; a running RGW with the other setting is refused (`ceph-rgw.sh down` first).
  const tcpNoDelay = "0";
  rgw = await startRgw({ log: (chunk) => process.stderr.write(chunk), env: { RGW_TCP_NODELAY: tcpNoDelay } });
  const s3Env = rgw.env;
  s3 = s3Client(s3Env);
  results.machine.rgw = {
    endpoint: s3Env.S3_ENDPOINT,
    startedHere: rgw.startedHere,
    bucket: s3Env.S3_BUCKET,
    tcpNoDelay: tcpNoDelay === "1",
  };
  results.machine.commit = await git(["rev-parse", "HEAD"]);
  // Uncommitted changes mean the figures belong to no commit: say so next to it.
  results.machine.uncommittedChanges = (await git(["status", "--porcelain", "--untracked-files=no"])) !== "";

  /** @param {string} name @param {() => Promise<unknown>} fn */
  const phase = async (name, fn) => {
    if (!wants(name) || interrupted) return;
    try {
      results[name] = await fn();
    } catch (error) {
      failed = true;
      log(`${name} failed: ${/** @type {Error} */ (error).stack ?? error}`);
      results[name] = { error: String(/** @type {Error} */ (error).message ?? error) };
    }
    if (s3) {
      await emptyPrefix(s3, s3Env.S3_BUCKET, prefix).then(
        ({ abortedUploads, deletedObjects }) =>
          log(`${name}: cleaned up ${abortedUploads} multipart uploads and ${deletedObjects} objects`),
        (e) => log(`cleaning after ${name} failed: ${e}`),
      );
    }
  };

  await phase("presign", () => benchPresign(s3Env));
  checkInterrupted();
  await phase("idle", () => benchIdle({ mainJs, work, log, checkInterrupted, toStop }, config.idle, s3Env));
  log("starting the gateway (S3 mode on RGW)");
  const gateway = await startGateway(s3Env);
  await phase("startLatency", () => benchStartLatency(gateway, s3Env.S3_BUCKET));
  await phase("startThroughput", () => benchStartThroughput(gateway, s3Env));
  await phase("upload", () => benchUpload(gateway, s3Env));
  const context = {
    mainJs,
    here,
    work,
    projectsFile,
    projectId,
    apiKey,
    log,
    checkInterrupted,
    randomFile,
    sizeLabel,
    toStop,
  };
  await phase("embedded", () => benchEmbedded(context, config.embedded));
  await phase("browserUpload", () =>
    benchBrowserUpload(gateway, {
      projectId,
      apiKey,
      ...config.browser,
      log,
      freeStore: () => emptyPrefix(/** @type {NonNullable<typeof s3>} */ (s3), s3Env.S3_BUCKET, prefix),
    }),
  );
  await phase("inspect", () => benchInspect({ work, prefix, log, checkInterrupted }, s3Env));
  await phase("verify", () =>
    benchVerify({ baseUrl: gateway.url, projectId, apiKey, work, prefix, quick, log, checkInterrupted }, s3Env),
  );
} catch (error) {
  failed = true;
  log(`failed: ${/** @type {Error} */ (error).stack ?? error}`);
  results.error = String(/** @type {Error} */ (error).message ?? error);
} finally {
  agent.destroy();
  await cleanUp();
}
if (interrupted) {
  log("interrupted: no results written");
  process.exit(130);
}

results.machine.loadAverageAtEnd = loadavg().map((x) => round(x));
results.targets = [
  ...targets(results),
  ...idleTargets(results.idle),
  ...embeddedTargets(results.embedded),
  ...inspectTargets(results.inspect),
  ...verifyTargets(results.verify),
];
const markdown = report(results);
console.log(`\n${markdown}\n`);
const outDir = join(here, "results");
mkdirSync(outDir, { recursive: true });
const base = update
  ? only
    ? `${only.join("+")}-latest`
    : "latest"
  : quick || only || browserMiB
    ? "quick"
    : "scratch";
writeFileSync(join(outDir, `${base}.json`), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(outDir, `${base}.md`), `${markdown}\n`);
log(
  `wrote ${join("tooling/bench/results", `${base}.json`)} and ${base}.md${update ? "" : " (the committed latest.* change only with --update)"}`,
);
process.exit(failed ? 1 : 0);
