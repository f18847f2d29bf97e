// The embedded-store section of `pnpm bench` (issue 10): whole uploads with our client into the built gateway's
// embedded store vs tus-js-client into @tus/server + @tus/file-store, on the same disk, each server and each uploader
// in a fresh process of its own (so each peak RSS is that upload's); and the latency of completing an upload at two
// sizes, which should not depend on the size.
import { randomFillSync } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { join } from "node:path";
import {
  fmt,
  fmtBytes,
  freePort,
  GiB,
  median,
  memoryOf,
  MiB,
  processCpuMs,
  round,
  runNodeJson,
  spawnNode,
  table,
} from "./lib/common.mjs";

/**
 * @typedef {{ mainJs: string, here: string, work: string, projectsFile: string, projectId: string, apiKey: string,
 *   log: (line: string) => void, checkInterrupted: () => void, randomFile: (path: string, bytes: number) => void,
 *   sizeLabel: (bytes: number) => string, toStop: { stop(): Promise<void> }[] }} Context
 * @typedef {{ small: number, large: number, runs: number, largeRuns: number, completeSizes: number[], completeRuns: number,
 *   partSize: number, concurrency: number }} EmbeddedConfig
 */

const CONTENDERS = {
  client:
    "@upload-gateway/client/node uploadFile (default settings: 16 MiB parts, 4 at once, ETags checked against each part's MD5) into the gateway's embedded store, which computes each part's MD5 as it writes it and fsyncs it before its 200",
  "client-nofsync": "the same, with LOCAL_STORAGE_FSYNC=false (parts survive a killed process, not a power loss)",
  tus: "tus-js-client 4 with its default settings (one PATCH of the whole file, read from disk) into @tus/server 2 + @tus/file-store 2 (no checksum, no fsync)",
};

/** The built gateway on the embedded store in a fresh data dir. @param {Context} ctx @param {boolean} durable */
async function startEmbedded(ctx, durable) {
  const port = await freePort();
  const dir = mkdtempSync(join(ctx.work, "embedded-"));
  const env = {
    PATH: process.env.PATH ?? "",
    STORAGE: "local",
    LOCAL_STORAGE_DIR: join(dir, "data"),
    LOCAL_STORAGE_FSYNC: String(durable),
    PROJECTS_FILE: ctx.projectsFile,
    HOST: "127.0.0.1",
    PORT: String(port),
    LOG_LEVEL: "warn",
  };
  const proc = await spawnNode(ctx.mainJs, [], {
    env,
    readyPattern: /running at (\S+?)\/?\n/,
    name: "gateway (embedded)",
  });
  ctx.toStop.push(proc);
  return { ...proc, url: `http://127.0.0.1:${port}`, dir };
}

/** @tus/server + @tus/file-store in a fresh directory. @param {Context} ctx */
async function startTus(ctx) {
  const port = await freePort();
  const dir = mkdtempSync(join(ctx.work, "tus-"));
  const proc = await spawnNode(join(ctx.here, "tus-server.mjs"), [dir, String(port)], {
    readyPattern: /tus listening at (\S+)\n/,
    name: "tus server",
  });
  ctx.toStop.push(proc);
  return { ...proc, url: /** @type {string} */ (proc.match[1]), dir };
}

/**
 * One upload by one contender: a fresh server, the uploader in its own process; the stored size is checked.
 * @param {Context} ctx @param {EmbeddedConfig} cfg @param {string} contender @param {string} file @param {number} size
 */
async function uploadOnce(ctx, cfg, contender, file, size) {
  const server = contender === "tus" ? await startTus(ctx) : await startEmbedded(ctx, contender === "client");
  const pid = /** @type {number} */ (server.child.pid);
  try {
    const options = {
      baseUrl: server.url,
      apiKey: ctx.apiKey,
      projectId: ctx.projectId,
      partSize: cfg.partSize,
      concurrency: cfg.concurrency,
      tusEndpoint: server.url,
    };
    const serverCpu0 = processCpuMs(pid);
    const result = /** @type {any} */ (
      await runNodeJson(
        join(ctx.here, "upload-worker.mjs"),
        [contender === "tus" ? "tus" : "client", file, JSON.stringify(options)],
        {
          name: `upload-worker ${contender}`,
          timeoutMs: 15 * 60_000,
        },
      )
    );
    const serverCpuSeconds = (processCpuMs(pid) - serverCpu0) / 1000;
    const serverPeakRss = memoryOf(pid).peakRss;
    let stored;
    if (contender === "tus") {
      stored = statSync(join(server.dir, /** @type {string} */ (result.key.split("/").pop()))).size;
    } else {
      const requestKey = result.key.split("/").pop();
      const reply = await fetch(`${server.url}/api/projects/${ctx.projectId}/uploads/${requestKey}`, {
        headers: { authorization: `Bearer ${ctx.apiKey}` },
      });
      const details = /** @type {any} */ (await reply.json()).result;
      if (details?.state !== "completed")
        throw new Error(`${contender}: the upload is ${details?.state}, not completed`);
      stored = Number(details.contentLength);
    }
    if (stored !== size) throw new Error(`${contender}: stored ${stored} bytes, not ${size}`);
    ctx.log(
      `  ${contender.padEnd(14)} ${ctx.sizeLabel(size)}: ${fmt(result.mibPerSecond, 1)} MiB/s, client RSS ${fmtBytes(result.peakRss)}, server RSS ${fmtBytes(serverPeakRss)}`,
    );
    return {
      seconds: round(result.seconds, 3),
      mibPerSecond: round(result.mibPerSecond, 1),
      clientPeakRss: result.peakRss,
      serverPeakRss,
      clientCpuSeconds: round(result.cpuSeconds, 2),
      serverCpuSeconds: round(serverCpuSeconds, 2),
      ...(result.retries ? { retries: result.retries } : {}),
    };
  } finally {
    await server.stop();
    rmSync(server.dir, { recursive: true, force: true });
  }
}

/** Every contender `runs` times on a file of `size` bytes, in rotating order; medians. @param {Context} ctx @param {EmbeddedConfig} cfg */
async function uploadRound(ctx, cfg, size, runs) {
  const file = join(ctx.work, `embedded-${ctx.sizeLabel(size).replace(" ", "")}.mp4`);
  ctx.log(`embedded: writing ${ctx.sizeLabel(size)} of random bytes to ${file}`);
  ctx.randomFile(file, size);
  const names = Object.keys(CONTENDERS);
  /** @type {Record<string, any[]>} */
  const all = Object.fromEntries(names.map((n) => [n, []]));
  try {
    for (let r = 0; r < runs; r++) {
      for (const name of names.map((_, i) => names[(i + r) % names.length])) {
        ctx.checkInterrupted();
        all[name].push(await uploadOnce(ctx, cfg, name, file, size));
      }
    }
  } finally {
    rmSync(file, { force: true });
  }
  /** @type {Record<string, any>} */
  const out = {};
  for (const [name, list] of Object.entries(all)) {
    const m = (/** @type {(x: any) => number} */ f) => median(list.map(f));
    out[name] = {
      mibPerSecond: m((x) => x.mibPerSecond),
      clientPeakRss: m((x) => x.clientPeakRss),
      serverPeakRss: m((x) => x.serverPeakRss),
      clientCpuSecondsPerGiB: round(m((x) => x.clientCpuSeconds) / (size / GiB), 2),
      serverCpuSecondsPerGiB: round(m((x) => x.serverCpuSeconds) / (size / GiB), 2),
      runs: list,
    };
  }
  for (const r of Object.values(out)) r.speedVsTus = round(r.mibPerSecond / out.tus.mibPerSecond, 3);
  return out;
}

/** One HTTP request with a body; resolves with the status, headers and body text. */
function send(
  /** @type {Agent} */ agent,
  /** @type {string} */ method,
  /** @type {string} */ url,
  /** @type {Record<string, string>} */ headers,
  /** @type {Buffer | string | undefined} */ body,
) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method, headers: { ...headers, "content-length": String(body ? Buffer.byteLength(body) : 0) }, agent },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, etag: res.headers.etag, text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * The latency of completing one upload of `size` bytes (16 MiB parts), on a fresh embedded store: the parts are one
 * random 16 MiB buffer sent again and again (the store does not care), so a 5 GiB upload is quick to make.
 * @param {Context} ctx @param {EmbeddedConfig} cfg @param {number} size
 */
async function completeLatencyOnce(ctx, cfg, size) {
  const server = await startEmbedded(ctx, true);
  const agent = new Agent({ keepAlive: true, maxSockets: cfg.concurrency });
  try {
    const api = `${server.url}/api/projects/${ctx.projectId}/uploads`;
    const json = { authorization: `Bearer ${ctx.apiKey}`, "content-type": "application/json" };
    const partsNumber = Math.ceil(size / cfg.partSize);
    const started = /** @type {any} */ (
      await send(
        agent,
        "POST",
        `${api}/multipart`,
        json,
        JSON.stringify({ partsNumber, fileName: "big.mp4", contentLength: String(size), mimeType: "video/mp4" }),
      )
    );
    const plan = JSON.parse(started.text).result;
    const buffer = randomFillSync(Buffer.allocUnsafe(plan.partSize));
    const queue = [...plan.presignedUrl];
    /** @type {{ partNumber: number, eTag: string }[]} */
    const parts = [];
    await Promise.all(
      Array.from({ length: cfg.concurrency }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const length = Math.min(plan.partSize, size - (next.partNumber - 1) * plan.partSize);
          const reply = /** @type {any} */ (
            await send(agent, "PUT", next.presignedUrl, {}, buffer.subarray(0, length))
          );
          if (reply.status !== 200) throw new Error(`part ${next.partNumber}: ${reply.status} ${reply.text}`);
          parts.push({ partNumber: next.partNumber, eTag: reply.etag });
        }
      }),
    );
    parts.sort((a, b) => a.partNumber - b.partNumber);
    const body = JSON.stringify({ requestKey: plan.requestKey, parts });
    const t0 = performance.now();
    const done = /** @type {any} */ (await send(agent, "PUT", `${api}/multipart-complete`, json, body));
    const ms = performance.now() - t0;
    if (done.status !== 200) throw new Error(`complete: ${done.status} ${done.text}`);
    ctx.log(`  complete ${ctx.sizeLabel(size)} (${partsNumber} parts): ${fmt(ms, 1)} ms`);
    return { ms: round(ms, 1), parts: partsNumber };
  } finally {
    agent.destroy();
    await server.stop();
    rmSync(server.dir, { recursive: true, force: true });
  }
}

/** The whole section. @param {Context} ctx @param {EmbeddedConfig} cfg */
export async function benchEmbedded(ctx, cfg) {
  ctx.log(
    `embedded: ${ctx.sizeLabel(cfg.small)} × ${cfg.runs} and ${ctx.sizeLabel(cfg.large)} × ${cfg.largeRuns} per contender (${Object.keys(CONTENDERS).join(", ")})`,
  );
  const small = await uploadRound(ctx, cfg, cfg.small, cfg.runs);
  const large = await uploadRound(ctx, cfg, cfg.large, cfg.largeRuns);
  for (const [name, r] of Object.entries(large)) {
    r.clientPeakRssVsSmall = round(r.clientPeakRss / small[name].clientPeakRss, 3);
    r.serverPeakRssVsSmall = round(r.serverPeakRss / small[name].serverPeakRss, 3);
  }
  /** @type {Record<string, any>} */
  const complete = {};
  for (const size of cfg.completeSizes) {
    /** @type {{ ms: number, parts: number }[]} */
    const samples = [];
    for (let i = 0; i < cfg.completeRuns; i++) {
      ctx.checkInterrupted();
      samples.push(await completeLatencyOnce(ctx, cfg, size));
    }
    complete[ctx.sizeLabel(size)] = {
      size,
      parts: samples[0]?.parts,
      medianMs: median(samples.map((s) => s.ms)),
      samplesMs: samples.map((s) => s.ms),
    };
  }
  return {
    contenders: CONTENDERS,
    baseline: "tus",
    sameDisk: `every server writes under ${ctx.work}`,
    small: { size: cfg.small, label: ctx.sizeLabel(cfg.small), runs: cfg.runs, results: small },
    large: { size: cfg.large, label: ctx.sizeLabel(cfg.large), runs: cfg.largeRuns, results: large },
    complete,
  };
}

/** The section's targets (reported, never asserted). @param {any} e the section's results */
export function embeddedTargets(e) {
  if (!e || e.error) return [];
  const list = [];
  for (const [label, c] of Object.entries(e.complete)) {
    list.push({
      name: `embedded: complete latency at ${label} (${c.parts} parts)`,
      target: "≤ 50 ms",
      actual: `${fmt(c.medianMs, 1)} ms`,
      met: c.medianMs <= 50,
    });
  }
  for (const round_ of [e.small, e.large]) {
    const ratio = round_.results.client.speedVsTus;
    list.push({
      name: `embedded: whole upload ${round_.label} vs tus (MD5 checked, fsync on)`,
      target: "≥ 1.0×",
      actual: `${fmt(ratio, 2)}×`,
      met: ratio >= 1,
    });
  }
  const l = e.large.results.client;
  list.push({
    name: `embedded: server peak RSS ${e.large.label} vs ${e.small.label}`,
    target: "within 10%",
    actual: `${fmt(l.serverPeakRssVsSmall, 2)}×`,
    met: Math.abs(l.serverPeakRssVsSmall - 1) <= 0.1,
  });
  list.push({
    name: `embedded: client peak RSS ${e.large.label} vs ${e.small.label}`,
    target: "within 10%",
    actual: `${fmt(l.clientPeakRssVsSmall, 2)}×`,
    met: Math.abs(l.clientPeakRssVsSmall - 1) <= 0.1,
  });
  return list;
}

/** The section as Markdown. @param {any} e */
export function embeddedReport(e) {
  if (!e) return "";
  if (e.error) return `Embedded store: failed: ${e.error}`;
  const rows = [];
  for (const round_ of [e.small, e.large]) {
    for (const [name, x] of Object.entries(round_.results)) {
      rows.push([
        `${name} ${round_.label}`,
        fmt(x.mibPerSecond, 0),
        `${fmt(x.speedVsTus, 2)}×`,
        fmtBytes(x.serverPeakRss),
        fmtBytes(x.clientPeakRss),
        fmt(x.serverCpuSecondsPerGiB, 2),
        fmt(x.clientCpuSecondsPerGiB, 2),
      ]);
    }
  }
  const completeRows = Object.entries(e.complete).map(([label, c]) => [
    label,
    fmt(c.parts),
    fmt(c.medianMs, 1),
    c.samplesMs.map((/** @type {number} */ ms) => fmt(ms, 1)).join(", "),
  ]);
  return (
    `**Embedded store vs @tus/server + @tus/file-store**, same disk, a fresh server process per upload (medians of ${e.small.runs} runs at ${e.small.label}, ${e.large.runs} at ${e.large.label})\n\n` +
    table(
      ["contender", "MiB/s", "vs tus", "server peak RSS", "client peak RSS", "server CPU s/GiB", "client CPU s/GiB"],
      rows,
    ) +
    `\n\n**Completing** an upload on the embedded store (16 MiB parts)\n\n${table(["size", "parts", "median ms", "samples ms"], completeRows)}`
  );
}
