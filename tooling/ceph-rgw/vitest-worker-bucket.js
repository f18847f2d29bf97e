// vitest setupFiles entry: setupFiles: ["@upload-gateway/ceph-rgw/vitest-worker-bucket"]
//
// Test files run in parallel (several workers per package, and the packages' suites side by side under turbo), and
// the gateway keeps global prefixes in its bucket (the due index of webhooks, expiries and content checks): one
// gateway would list, and claim, the work of another file's gateway. So each worker of each package gets a bucket
// of its own, `<S3_BUCKET>-<package folder>-<worker>`, on the throwaway RGW (a loopback endpoint). An S3 given from
// elsewhere keeps its one bucket: the tests do not create buckets there.
import { basename } from "node:path";
import { ensureBucket } from "./bucket.js";

const BASE = Symbol.for("upload-gateway.ceph-rgw.base-bucket");
const worker = process.env.VITEST_POOL_ID;
const endpoint = process.env.S3_ENDPOINT;
const g = /** @type {Record<symbol, string | undefined>} */ (/** @type {unknown} */ (globalThis));
// With isolate: false a worker runs this before each of its files: the first run keeps the name it started from.
const base = (g[BASE] ??= process.env.S3_BUCKET);

if (base && worker && endpoint && isLoopback(endpoint)) {
  const folder = basename(process.cwd())
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-");
  const bucket = `${base}-${folder}-${worker}`.slice(0, 63).replace(/-+$/, "");
  if (process.env.S3_BUCKET !== bucket) {
    await ensureBucket(process.env, bucket);
    process.env.S3_BUCKET = bucket;
  }
}

/** @param {string} url */
function isLoopback(url) {
  const host = new URL(url).hostname;
  return host === "127.0.0.1" || host === "localhost" || host === "[::1]";
}
