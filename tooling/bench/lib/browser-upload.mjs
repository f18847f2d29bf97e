// The browser section of the benchmark (issue 11.8): Chromium uploads an in-page Blob through the gateway to the
// store, with our client (part verification on: Content-MD5, MD5s in its Web Worker) and with raw `fetch` PUTs of
// Blob slices to the presigned URLs (no verification), alternating, medians of the runs. The page is served on the
// gateway's origin (its own page at /, with our script added), so API calls are same-origin and parts go cross-origin
// to the bucket, as in a real app. (A page Playwright made up would count as a public origin, which Chromium forbids
// to reach loopback addresses.) The third contender is Uppy 5 (@uppy/core + @uppy/aws-s3) with the options of
// @upload-gateway/uppy: the same start, parts and complete, sent by Uppy's own XHR code.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { median, MiB, quantile, randomFile } from "./common.mjs";

const sorted = (/** @type {number[]} */ values) => [...values].sort((a, b) => a - b);

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-quic"];

/** Our client and Uppy 5 with our adapter, bundled for the page as one script exposing `window.gatewayClient`. */
async function clientBundle() {
  const out = await build({
    stdin: {
      contents: [
        `export { upload } from "@upload-gateway/client";`,
        `export { default as Uppy } from "@uppy/core";`,
        `export { default as AwsS3 } from "@uppy/aws-s3";`,
        `export { gatewayS3Options } from "@upload-gateway/uppy";`,
      ].join("\n"),
      resolveDir: import.meta.dirname,
      loader: "js",
    },
    bundle: true,
    write: false,
    format: "iife",
    globalName: "gatewayClient",
    platform: "browser",
    target: "es2022",
  });
  return out.outputFiles[0].text;
}

/**
 * @param {{ url: string }} gateway
 * @param {{ projectId: string, apiKey: string, size: number, partSize: number, concurrency: number, runs: number, log: (line: string) => void }} options
 */
export async function benchBrowserUpload(gateway, { projectId, apiKey, size, partSize, concurrency, runs, log }) {
  const script = await clientBundle();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  // Chromium reads the picked file from disk as it sends it: the file stays until the browser is closed.
  const dir = mkdtempSync(join(tmpdir(), "upload-gateway-bench-browser-"));
  const file = join(dir, "bench.bin");
  try {
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    if (process.env.BENCH_DEBUG) {
      page.on("requestfailed", (r) => log(`failed ${r.method()} ${r.url().slice(0, 90)} ${r.failure()?.errorText}`));
      page.on("response", (r) => r.status() >= 300 && log(`${r.status()} ${r.request().method()} ${r.url().slice(0, 90)}`));
      page.on("console", (m) => log(`console: ${m.text()}`));
    }
    await page.goto(`${gateway.url}/health/live`);
    await page.addScriptTag({ content: script });
    // The same bytes for every run, from a file on disk picked through a file input, as a visitor's video would be.
    // (With an in-page Blob of 256 MiB, XHR PUTs of its slices, 4 at once, failed with ERR_BLOB_OUT_OF_MEMORY: Chromium's
    // blob memory quota. A picked File is read from disk and has no such limit.)
    randomFile(file, size);
    await page.evaluate(() => {
      const input = document.createElement("input");
      input.type = "file";
      input.id = "bench-file";
      document.body.append(input);
    });
    await page.setInputFiles("#bench-file", file);
    await page.evaluate(() => {
      const w = /** @type {any} */ (window);
      w.benchBlob = /** @type {HTMLInputElement} */ (document.getElementById("bench-file")).files?.[0];
    });

    /** @type {Record<string, (args: any) => Promise<number>>} */
    const contenders = {
      // Our upload(): start, parts by XHR with Content-MD5 (hashed in the worker ahead of sending), complete.
      // Meanwhile the page's responsiveness (issue 15): how long a trivial task (a message to itself, every 25 ms) waits.
      client: async (args) => {
        const { ms, waits } = await page.evaluate(async ({ baseUrl, apiKey, projectId, partSize, concurrency }) => {
          const w = /** @type {any} */ (window);
          const channel = new MessageChannel();
          const ping = () =>
            new Promise((resolve) => {
              const sent = performance.now();
              channel.port2.onmessage = () => resolve(performance.now() - sent);
              channel.port1.postMessage(null);
            });
          /** @type {number[]} */
          const waits = [];
          let uploading = true;
          const probing = (async () => {
            while (uploading) {
              waits.push(/** @type {number} */ (await ping()));
              await new Promise((resolve) => setTimeout(resolve, 25));
            }
          })();
          const t0 = performance.now();
          try {
            await w.gatewayClient.upload(w.benchBlob, { baseUrl, apiKey, projectId, partSize, concurrency, fileName: "bench.bin" });
          } finally {
            uploading = false;
            await probing;
          }
          return { ms: performance.now() - t0, waits };
        }, args);
        pageWaits.push(...waits);
        return ms;
      },
      // The floor: the same start and complete calls, parts as plain fetch PUTs of Blob slices, nothing checked.
      "raw-fetch": (args) =>
        page.evaluate(async ({ baseUrl, apiKey, projectId, partSize, concurrency }) => {
          const blob = /** @type {any} */ (window).benchBlob;
          const api = async (/** @type {string} */ path, /** @type {string} */ method, /** @type {unknown} */ body) => {
            const response = await fetch(`${baseUrl}/api/projects/${projectId}/uploads${path}`, {
              method,
              headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
              body: JSON.stringify(body),
            });
            const envelope = await response.json();
            if (!envelope.success) throw new Error(JSON.stringify(envelope.errors));
            return envelope.result;
          };
          const t0 = performance.now();
          const partsNumber = Math.ceil(blob.size / partSize);
          const started = await api("/multipart", "POST", { partsNumber, fileName: "bench.bin", contentLength: String(blob.size), mimeType: "application/octet-stream" });
          const queue = [...started.presignedUrl];
          /** @type {{ partNumber: number, eTag: string }[]} */
          const parts = [];
          await Promise.all(
            Array.from({ length: concurrency }, async () => {
              for (let next = queue.shift(); next; next = queue.shift()) {
                const start = (next.partNumber - 1) * started.partSize;
                const response = await fetch(next.presignedUrl, { method: "PUT", body: blob.slice(start, start + started.partSize) });
                if (!response.ok) throw new Error(`part ${next.partNumber}: HTTP ${response.status}`);
                parts.push({ partNumber: next.partNumber, eTag: /** @type {string} */ (response.headers.get("etag")) });
              }
            }),
          );
          parts.sort((a, b) => a.partNumber - b.partNumber);
          await api("/multipart-complete", "PUT", { requestKey: started.requestKey, parts });
          return performance.now() - t0;
        }, args),
      // Uppy 5: a fresh Uppy per run with @uppy/aws-s3 configured by @upload-gateway/uppy, `limit` parts at once.
      uppy: (args) =>
        page.evaluate(async ({ baseUrl, apiKey, projectId, partSize, concurrency }) => {
          const w = /** @type {any} */ (window);
          const { Uppy, AwsS3, gatewayS3Options } = w.gatewayClient;
          const t0 = performance.now();
          const uppy = new Uppy({ autoProceed: false });
          uppy.use(AwsS3, { ...gatewayS3Options({ baseUrl, apiKey, projectId, partSize }), limit: concurrency });
          uppy.addFile({ name: "bench.bin", type: "application/octet-stream", data: w.benchBlob });
          const result = await uppy.upload();
          const ms = performance.now() - t0;
          uppy.destroy();
          if (!result || result.failed.length > 0) throw new Error(`Uppy failed: ${result?.failed.map((/** @type {any} */ f) => String(f.error)).join("; ")}`);
          return ms;
        }, args),
    };

    const args = { baseUrl: gateway.url, apiKey, projectId, partSize, concurrency };
    /** @type {number[]} round trips of the trivial task during our client's uploads, ms */
    const pageWaits = [];
    /** @type {Record<string, number[]>} */
    const seconds = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
    for (let run = 0; run < runs; run++) {
      for (const [name, uploadOnce] of Object.entries(contenders)) {
        const ms = await uploadOnce(args);
        seconds[name].push(ms / 1000);
        log(`browser upload: ${name} run ${run + 1}/${runs}: ${((size / MiB) / (ms / 1000)).toFixed(1)} MiB/s`);
      }
    }
    const results = Object.fromEntries(
      Object.entries(seconds).map(([name, s]) => [name, { seconds: s, mibPerSecond: size / MiB / median(s) }]),
    );
    for (const x of Object.values(results)) {
      x.speedVsRawFetch = x.mibPerSecond / results["raw-fetch"].mibPerSecond;
      x.speedVsUppy = x.mibPerSecond / results.uppy.mibPerSecond;
    }
    return {
      size,
      partSize,
      concurrency,
      runs,
      chromium: browser.version(),
      results,
      pageResponsiveness: { roundTrips: pageWaits.length, medianMs: quantile(sorted(pageWaits), 0.5), p95Ms: quantile(sorted(pageWaits), 0.95), maxMs: Math.max(...pageWaits) },
      contenders: {
        client: "@upload-gateway/client upload() in the page: XHR PUTs with Content-MD5 (MD5 computed in its Web Worker ahead of sending), ETag compared where the store's ETags are MD5s",
        "raw-fetch": "fetch PUTs of Blob slices to the presigned URLs, same start and complete calls, nothing verified",
        uppy: "Uppy 5 (@uppy/core + @uppy/aws-s3) with @upload-gateway/uppy's options: Uppy's XHR PUTs in the gateway's part plan, nothing verified (Uppy sends no Content-MD5)",
      },
    };
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

