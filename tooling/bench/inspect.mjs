// The inspection section of `pnpm bench` (issue 20): what the gateway reads from the store to inspect a 1 GiB MP4
// with its index (`moov`) at the end (ffmpeg's and phones' default) and at the start (`+faststart`), with the built
// server's inspectContent (MediaInfo WebAssembly through ranged reads), next to ffprobe reading the same object from a
// presigned URL. Both go through one counting HTTP proxy in front of RGW, so their requests and bytes are counted
// at the same place: what crossed the wire from the store.
import { execFileSync, spawn } from "node:child_process";
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Upload } from "@aws-sdk/lib-storage";
import { fmt, fmtBytes, GiB, median, MiB, round, runNodeJson, table } from "./lib/common.mjs";
import { serverDir } from "./lib/fast-presigner.mjs";
import { s3Client } from "./lib/s3.mjs";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

/**
 * A 1 GiB MP4 of real samples (not padding, which a parser could skip): a 10 s 1080p30 H.264 (16 Mbit/s, noise, so
 * it does not compress away) + AAC clip made with ffmpeg, repeated by `-stream_loop` without re-encoding and cut at
 * 1 GiB, then the same with `+faststart`. About 8.5 minutes of video: its index is ~0.4 MiB, as a phone's of that size.
 * @param {string} dir @param {(line: string) => void} log
 */
function makeFiles(dir, log) {
  const ffmpeg = (/** @type {string[]} */ ...args) =>
    execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args]);
  const clip = join(dir, "clip.mp4");
  const atEnd = join(dir, "index-at-end.mp4");
  const atStart = join(dir, "index-at-start.mp4");
  log("inspect: making a 1 GiB MP4 with ffmpeg (a 10 s clip, repeated)");
  ffmpeg(
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=1920x1080:rate=30",
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000",
    "-t",
    "10",
    "-vf",
    "noise=alls=30:allf=t",
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-b:v",
    "16M",
    "-maxrate",
    "16M",
    "-bufsize",
    "16M",
    "-pix_fmt",
    "yuv420p",
    "-c:a",
    "aac",
    "-b:a",
    "128k",
    clip,
  );
  ffmpeg("-stream_loop", "60", "-i", clip, "-c", "copy", "-fs", String(GiB), atEnd);
  ffmpeg("-i", atEnd, "-c", "copy", "-movflags", "+faststart", atStart);
  return [
    { name: "index at the end", path: atEnd },
    { name: "index at the start", path: atStart },
  ];
}

/** An HTTP proxy in front of the store counting requests and the response bytes it passes on. @param {string} target */
async function startByteCountingProxy(target) {
  const upstream = new URL(target);
  let requests = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    requests++;
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.on("data", (chunk) => {
          bytes += chunk.length;
          if (!res.write(chunk)) {
            reply.pause();
            res.once("drain", () => reply.resume());
          }
        });
        reply.on("end", () => res.end());
        res.on("close", () => reply.destroy());
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const address = /** @type {import("node:net").AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${address.port}`,
    take() {
      const taken = { requests, bytes };
      requests = 0;
      bytes = 0;
      return taken;
    },
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}

/** ffprobe on a URL: the facts it prints, its time and its peak RSS (from GNU time, when there). @param {string} url */
function ffprobe(url) {
  const args = [
    "-v",
    "error",
    "-show_entries",
    "format=duration,bit_rate:stream=codec_name,width,height",
    "-of",
    "json",
    url,
  ];
  const timed = existsSync("/usr/bin/time");
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = timed ? spawn("/usr/bin/time", ["-f", "%M", "ffprobe", ...args]) : spawn("ffprobe", args);
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`ffprobe exited with ${code}: ${err.slice(-500)}`));
      const peakKiB = timed ? Number(err.trim().split("\n").pop()) : NaN;
      resolve({ ms: performance.now() - started, peakRss: peakKiB * 1024, facts: JSON.parse(out).format });
    });
  });
}

/**
 * @param {{ work: string, prefix: string, log: (line: string) => void, checkInterrupted: () => void }} ctx
 * @param {Record<string, string>} s3Env
 */
export async function benchInspect(ctx, s3Env) {
  const { S3Storage } = require(join(serverDir, "dist", "storage", "s3.storage.js"));
  const files = makeFiles(ctx.work, ctx.log);
  const proxy = await startByteCountingProxy(s3Env.S3_ENDPOINT);
  const storage = new S3Storage({
    bucket: s3Env.S3_BUCKET,
    region: s3Env.S3_REGION ?? "us-east-1",
    endpoint: proxy.url, // URLs signed for the proxy's host, which passes the Host header on
    forcePathStyle: true,
    credentials: { accessKeyId: s3Env.AWS_ACCESS_KEY_ID, secretAccessKey: s3Env.AWS_SECRET_ACCESS_KEY },
  });
  const results = [];
  try {
    for (const file of files) {
      ctx.checkInterrupted();
      const key = `${ctx.prefix}inspect/${file.name.replaceAll(" ", "-")}.mp4`;
      const size = statSync(file.path).size;
      ctx.log(`inspect: storing ${file.name} (${fmtBytes(size)}) in RGW`);
      const client = s3Client(s3Env); // straight to RGW: storing is not what is measured
      try {
        const params = { Bucket: s3Env.S3_BUCKET, Key: key, Body: createReadStream(file.path) };
        await new Upload({ client, params, partSize: 64 * MiB, queueSize: 2 }).done();
      } finally {
        client.destroy();
      }
      proxy.take();

      // In a process of its own, so that its peak RSS is the inspections' (three in a row, as a gateway would).
      const RUNS = 3;
      const worker = /** @type {any} */ (
        await runNodeJson(join(here, "inspect-worker.mjs"), [key, String(RUNS)], {
          env: { ...s3Env, S3_ENDPOINT: proxy.url },
          name: "inspect worker",
        })
      );
      const total = proxy.take(); // the runs read the same: each is a third of it
      const runs = worker.runs;
      const probe = [];
      for (let run = 0; run < 3; run++) {
        const url = await storage.presignDownload(key, 600);
        const result = /** @type {any} */ (await ffprobe(url));
        probe.push({ ...result, wire: proxy.take() });
      }
      const first = { ...runs[0], wire: { requests: total.requests / RUNS, bytes: total.bytes / RUNS } };
      results.push({
        name: file.name,
        sizeBytes: size,
        gateway: {
          // inspectContent's own count (ranged reads of the store) and the proxy's (HTTP requests, body bytes).
          readRequests: first.read.requests,
          readBytes: first.read.bytes,
          wireRequests: first.wire.requests,
          wireBytes: first.wire.bytes,
          firstMs: round(first.ms, 1),
          medianMs: round(median(runs.map((/** @type {any} */ r) => r.ms)), 1),
          peakRssGrowth: worker.peakRss - worker.baselineRss,
          detectedMimeType: first.inspection.detectedMimeType,
          media: first.inspection.media,
          anomalies: first.inspection.anomalies,
        },
        ffprobe: {
          wireRequests: probe[0].wire.requests,
          wireBytes: probe[0].wire.bytes,
          medianMs: round(median(probe.map((p) => p.ms)), 1),
          peakRss: probe[0].peakRss,
          facts: probe[0].facts,
        },
      });
      await storage.deleteObject(key);
    }
  } finally {
    storage.destroy();
    await proxy.close();
  }
  return { files: results };
}

/** @param {any} i */
export function inspectTargets(i) {
  if (!i || i.error) return [];
  return i.files.map((/** @type {any} */ f) => ({
    name: `inspect: bytes read from the store, 1 GiB MP4, ${f.name}`,
    target: "≤ 4 MiB",
    actual: fmtBytes(f.gateway.wireBytes),
    met: f.gateway.wireBytes <= 4 * MiB,
  }));
}

/** @param {any} i */
export function inspectReport(i) {
  if (!i) return "";
  if (i.error) return `Inspection: failed: ${i.error}`;
  const rows = i.files.flatMap((/** @type {any} */ f) => [
    [
      `inspectContent, ${f.name}`,
      fmtBytes(f.gateway.wireBytes),
      String(f.gateway.wireRequests),
      `${fmt(f.gateway.medianMs, 0)} ms (first, loading MediaInfo: ${fmt(f.gateway.firstMs, 0)} ms)`,
      `+${fmtBytes(f.gateway.peakRssGrowth)} peak RSS over the loaded process`,
      `${f.gateway.media?.container} ${f.gateway.media?.width}×${f.gateway.media?.height} ${f.gateway.media?.videoCodec}/${f.gateway.media?.audioCodec}, ${fmt(f.gateway.media?.durationSeconds, 1)} s`,
    ],
    [
      `ffprobe (presigned URL), ${f.name}`,
      fmtBytes(f.ffprobe.wireBytes),
      String(f.ffprobe.wireRequests),
      `${fmt(f.ffprobe.medianMs, 0)} ms`,
      Number.isFinite(f.ffprobe.peakRss) ? `${fmtBytes(f.ffprobe.peakRss)} peak RSS (own process)` : "n/a",
      `${fmt(Number(f.ffprobe.facts?.duration), 1)} s`,
    ],
  ]);
  return (
    `**Inspecting a stored 1 GiB MP4** (issue 20): what is read from RGW (counted by an HTTP proxy in front of it) to find the ` +
    `container's facts, by the gateway's inspectContent (file-type + MediaInfo WebAssembly over ranged reads, 4 MiB limit) and by ` +
    `ffprobe on a presigned URL (Debian's, default options; medians of 3):\n\n` +
    table(["reader", "bytes from the store", "requests", "time", "memory", "found"], rows)
  );
}
