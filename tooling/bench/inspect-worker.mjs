// One process of the inspect phase: inspects one stored object `runs` times with the built server's inspectContent
// through its S3 adapter, and prints JSON: each run's time and reads, what it found, and the process's peak RSS
// (VmHWM) next to its RSS before the first inspection (modules loaded), so the difference is what inspecting costs.
// Usage: node inspect-worker.mjs <key> <runs>, with S3_ENDPOINT (the counting proxy), S3_BUCKET, AWS_* set.
import { createRequire } from "node:module";
import { join } from "node:path";
import { memoryOf } from "./lib/common.mjs";
import { serverDir } from "./lib/fast-presigner.mjs";

const require = createRequire(import.meta.url);
const dist = join(serverDir, "dist");
const { S3Storage } = require(join(dist, "storage", "s3.storage.js"));
const { inspectContent } = require(join(dist, "verification", "content-inspector.js"));
const { storageByteSource } = require(join(dist, "verification", "storage.byte-source.js"));

const [key, runs = "3"] = process.argv.slice(2);
const env = process.env;
const storage = new S3Storage({
  bucket: env.S3_BUCKET,
  region: env.S3_REGION ?? "us-east-1",
  endpoint: env.S3_ENDPOINT,
  forcePathStyle: true,
  credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID ?? "", secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? "" },
});
const baselineRss = memoryOf().rss;
const results = [];
for (let run = 0; run < Number(runs); run++) {
  const started = performance.now();
  const inspection = await inspectContent(await storageByteSource(storage, key));
  results.push({ ms: performance.now() - started, read: inspection.read, inspection });
}
storage.destroy();
console.log(JSON.stringify({ baselineRss, peakRss: memoryOf().peakRss, runs: results }));
