// The content check's section of `pnpm bench` (issue 20): how long a client waits from sending `multipart-complete`
// to its verdict (complete answers once the check has decided), through the built gateway on RGW, and how fast the
// gateway's whole-file hash (`verifyFileHash`) reads an object from RGW, per wall second and per CPU second.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Upload } from "@aws-sdk/lib-storage";
import { fmt, GiB, median, MiB, quantile, round, table } from "./lib/common.mjs";
import { serverDir } from "./lib/fast-presigner.mjs";
import { s3Client } from "./lib/s3.mjs";

const require = createRequire(import.meta.url);

/** Completes timed per run, after a first one that loads MediaInfo's WebAssembly (reported apart). */
const RUNS = 20;

/**
 * @param {{ baseUrl: string, projectId: string, apiKey: string, work: string, prefix: string, quick: boolean,
 *   log: (line: string) => void, checkInterrupted: () => void }} ctx
 * @param {Record<string, string>} s3Env
 */
export async function benchVerify(ctx, s3Env) {
  const completeToVerdict = await timeVerdicts(ctx);
  ctx.checkInterrupted();
  const hash = await timeHash(ctx, s3Env);
  return { completeToVerdict, hash };
}

/** A 2 s 320×240 H.264 + AAC MP4 (index at the end, ffmpeg's default): what a client uploads, checked as video. */
function smallVideo(/** @type {string} */ dir) {
  const path = join(dir, "verify-clip.mp4");
  execFileSync("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-y"],
    ...["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=2"],
    ...["-f", "lavfi", "-i", "sine=frequency=440:duration=2"],
    ...["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", path],
  ]);
  return new Uint8Array(readFileSync(path));
}

/** @param {Parameters<typeof benchVerify>[0]} ctx */
async function timeVerdicts(ctx) {
  const video = smallVideo(ctx.work);
  const uploads = `${ctx.baseUrl}/api/projects/${ctx.projectId}/uploads`;
  const headers = { authorization: `Bearer ${ctx.apiKey}`, "content-type": "application/json" };
  const call = async (/** @type {string} */ method, /** @type {string} */ url, /** @type {unknown} */ body) => {
    const reply = await fetch(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const json = /** @type {any} */ (await reply.json());
    if (!reply.ok) throw new Error(`${method} ${url}: ${reply.status} ${JSON.stringify(json.errorDetails)}`);
    return json.result;
  };
  const runs = ctx.quick ? 5 : RUNS;
  /** @type {number[]} */
  const ms = [];
  let firstMs = 0;
  ctx.log(`verify: ${runs + 1} uploads of a ${fmt(video.length / 1024)} KiB MP4, complete timed to its verdict`);
  for (let run = 0; run <= runs; run++) {
    ctx.checkInterrupted();
    const started = await call("POST", `${uploads}/multipart`, {
      partsNumber: 1,
      fileName: "clip.mp4",
      contentLength: String(video.length),
      mimeType: "video/mp4",
    });
    const put = await fetch(started.presignedUrl[0].presignedUrl, { method: "PUT", body: video });
    if (!put.ok) throw new Error(`part PUT: ${put.status}`);
    const parts = [{ partNumber: 1, eTag: put.headers.get("etag") }];
    const t0 = performance.now();
    await call("PUT", `${uploads}/multipart-complete`, { requestKey: started.requestKey, parts });
    const elapsed = performance.now() - t0;
    const status = await call("GET", `${uploads}/${started.requestKey}`);
    if (status.verification?.state !== "passed") {
      throw new Error(
        `the check had not passed the upload when complete answered: ${JSON.stringify(status.verification)}`,
      );
    }
    if (run === 0) firstMs = elapsed;
    else ms.push(elapsed);
  }
  ms.sort((a, b) => a - b);
  return {
    fileBytes: video.length,
    runs,
    firstMs: round(firstMs, 1),
    p50Ms: round(median(ms), 1),
    p95Ms: round(quantile(ms, 0.95), 1),
  };
}

/** @param {Parameters<typeof benchVerify>[0]} ctx @param {Record<string, string>} s3Env */
async function timeHash(ctx, s3Env) {
  const dist = join(serverDir, "dist");
  const { S3Storage } = require(join(dist, "storage", "s3.storage.js"));
  const { storageByteSource } = require(join(dist, "verification", "storage.byte-source.js"));
  const { sha256Of } = require(join(dist, "verification", "file-hash.js"));
  const size = ctx.quick ? 256 * MiB : GiB;
  const key = `${ctx.prefix}verify/hash-${size}.bin`;
  // One 64 MiB random block repeated: the hash reads every byte either way, and making 1 GiB of randomness is not
  // what is measured.
  const block = randomBytes(64 * MiB);
  const blocks = size / block.length;
  ctx.log(`verify: storing a ${size / MiB} MiB object in RGW for the whole-file hash`);
  const client = s3Client(s3Env);
  try {
    const body = Readable.from(
      (function* () {
        for (let i = 0; i < blocks; i++) yield block;
      })(),
    );
    await new Upload({ client, params: { Bucket: s3Env.S3_BUCKET, Key: key, Body: body }, partSize: 64 * MiB }).done();
  } finally {
    client.destroy();
  }
  const storage = new S3Storage({
    bucket: s3Env.S3_BUCKET,
    region: s3Env.S3_REGION ?? "us-east-1",
    endpoint: s3Env.S3_ENDPOINT,
    forcePathStyle: true,
    credentials: { accessKeyId: s3Env.AWS_ACCESS_KEY_ID, secretAccessKey: s3Env.AWS_SECRET_ACCESS_KEY },
  });
  // The built server's way: one streaming read, sha256Of(store, key, size); a build before it took ranged reads of a
  // byte source, sha256Of(source).
  const streamed = sha256Of.length >= 3;
  const hashOf = streamed
    ? () => sha256Of(storage, key, size)
    : async () => sha256Of(await storageByteSource(storage, key));
  try {
    /** @type {{ wallMiBps: number, cpuMiBps: number }[]} */
    const runs = [];
    for (let run = 0; run < 3; run++) {
      ctx.checkInterrupted();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await hashOf();
      const wallSeconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      runs.push({ wallMiBps: size / MiB / wallSeconds, cpuMiBps: size / MiB / cpuSeconds });
    }
    await storage.deleteObject(key);
    return {
      sizeBytes: size,
      read: streamed ? "one streaming GetObject, hashed as it arrives" : "8 MiB ranged reads, two in flight",
      wallMiBps: round(median(runs.map((r) => r.wallMiBps)), 0),
      perCoreMiBps: round(median(runs.map((r) => r.cpuMiBps)), 0),
    };
  } finally {
    storage.destroy();
  }
}

/** @param {any} v */
export function verifyTargets(v) {
  if (!v || v.error) return [];
  return [
    {
      name: "verify: complete-to-verdict p50, a small MP4 on RGW",
      target: "≤ 250 ms",
      actual: `${fmt(v.completeToVerdict.p50Ms, 0)} ms`,
      met: v.completeToVerdict.p50Ms <= 250,
    },
    {
      name: "verify: whole-file SHA-256 from RGW, per core",
      target: "≥ 400 MiB/s",
      actual: `${fmt(v.hash.perCoreMiBps, 0)} MiB/s`,
      met: v.hash.perCoreMiBps >= 400,
    },
  ];
}

/** @param {any} v */
export function verifyReport(v) {
  if (!v) return "";
  if (v.error) return `Content check: failed: ${v.error}`;
  const c = v.completeToVerdict;
  return (
    `**The content check** (issue 20), through the built gateway on RGW: \`multipart-complete\` answers once the stored ` +
    `bytes are checked, so its time is complete-to-verdict (a ${fmt(c.fileBytes / 1024)} KiB MP4, ${c.runs} runs after ` +
    `a first one that loads MediaInfo); the whole-file hash (\`verifyFileHash\`) reads a ${v.hash.sizeBytes / MiB} MiB ` +
    `object by ${v.hash.read ?? "8 MiB ranged reads, two in flight"} (medians of 3; per core: ` +
    `bytes over the CPU seconds of the process reading and hashing, all its threads, user and system):\n\n` +
    table(
      ["measure", "value"],
      [
        ["complete-to-verdict p50", `${fmt(c.p50Ms, 0)} ms`],
        ["complete-to-verdict p95", `${fmt(c.p95Ms, 0)} ms`],
        ["first complete (loads MediaInfo)", `${fmt(c.firstMs, 0)} ms`],
        ["whole-file hash, wall", `${fmt(v.hash.wallMiBps, 0)} MiB/s`],
        ["whole-file hash, per core", `${fmt(v.hash.perCoreMiBps, 0)} MiB/s`],
      ],
    )
  );
}
