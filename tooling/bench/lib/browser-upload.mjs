// The browser section of the benchmark (issue 11.8): Chromium uploads a picked file through the gateway to the
// store, with our client (part verification on: Content-MD5, MD5s in its Web Worker), our client with verification off
// (what verification costs), raw `fetch` PUTs of Blob slices to the presigned URLs (no verification) and Uppy 5,
// alternating, medians of the runs. The page is served on the gateway's origin (its own page at /, with our script
// added), so API calls are same-origin and parts go cross-origin to the bucket, as in a real app. (A page Playwright
// made up would count as a public origin, which Chromium forbids to reach loopback addresses.) Uppy 5 is @uppy/core +
// @uppy/aws-s3 with the options of @upload-gateway/uppy: the same start, parts and complete, sent by Uppy's own XHR code.
//
// Two rounds: with no network limit (on this machine the CPU is the limit: Chromium, RGW and the gateway share its
// cores) and with Chromium's upload limited by DevTools network emulation (the network is the limit, as where the
// store is elsewhere). Each upload's CPU time is counted per side from /proc: Chromium's processes, the store's
// daemons, the gateway.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { cpuMeter, cpuMsOf, GiB, median, MiB, processes, quantile, randomFile, round } from "./common.mjs";

const sorted = (/** @type {number[]} */ values) => [...values].sort((a, b) => a - b);

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-quic",
];

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
 * The processes of the Chromium that Playwright started from this process (its browser, renderers, network service
 * and other helpers), found by parentage so that another Chromium on the machine is not counted.
 */
function chromiumPids() {
  const all = processes();
  /** @type {number[]} */
  const found = [];
  const visit = (/** @type {number} */ pid) => {
    for (const child of all.filter((p) => p.parent === pid)) {
      if (/chrom/i.test(child.name)) found.push(child.pid);
      visit(child.pid);
    }
  };
  visit(process.pid);
  return found;
}

/**
 * @param {{ url: string, child?: { pid?: number } }} gateway
 * @param {{ projectId: string, apiKey: string, size: number, partSize: number, concurrency: number, runs: number, networkMiBps: number, log: (line: string) => void, freeStore: () => Promise<unknown> }} options
 */
export async function benchBrowserUpload(
  gateway,
  { projectId, apiKey, size, partSize, concurrency, runs, networkMiBps, log, freeStore },
) {
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
      page.on(
        "response",
        (r) => r.status() >= 300 && log(`${r.status()} ${r.request().method()} ${r.url().slice(0, 90)}`),
      );
      page.on("console", (m) => log(`console: ${m.text()}`));
    }
    await page.goto(`${gateway.url}/health/live`);
    await page.addScriptTag({ content: script });
    const devtools = await context.newCDPSession(page);
    await devtools.send("Network.enable");
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

    /** Our upload(): start, parts by XHR (with Content-MD5 hashed in its worker ahead of sending, when verifying), complete. */
    const ourClient = (/** @type {boolean} */ verifyParts) => (/** @type {any} */ args) =>
      page.evaluate(
        async ({ baseUrl, apiKey, projectId, partSize, concurrency, verifyParts }) => {
          const w = /** @type {any} */ (window);
          const t0 = performance.now();
          await w.gatewayClient.upload(w.benchBlob, {
            baseUrl,
            apiKey,
            projectId,
            partSize,
            concurrency,
            fileName: "bench.bin",
            verifyParts,
          });
          return performance.now() - t0;
        },
        { ...args, verifyParts },
      );

    /**
     * Raw fetch PUTs of the file's slices to the presigned URLs after the same start call, then the same complete:
     * with `prepare` "read" each part is first read whole into a Web Worker, with "sha256" also hashed there.
     * @param {"none" | "read" | "sha256"} prepare
     */
    const rawFetch = (prepare) => (/** @type {any} */ args) =>
      page.evaluate(
        async ({ baseUrl, apiKey, projectId, partSize, concurrency, prepare }) => {
          const w = /** @type {any} */ (window);
          const blob = w.benchBlob;
          w.benchPrepareWorker ??= new Worker(
            URL.createObjectURL(
              new Blob(
                [
                  `onmessage = async ({ data: { id, part, prepare } }) => {
                   const bytes = await part.arrayBuffer();
                   const sha256 = prepare === "sha256" ? await crypto.subtle.digest("SHA-256", bytes) : undefined;
                   postMessage({ id, bytes: bytes.byteLength, sha256 });
                 };`,
                ],
                { type: "text/javascript" },
              ),
            ),
          );
          /** @type {Worker} */
          const worker = w.benchPrepareWorker;
          /** @type {Map<number, (reply: { bytes: number }) => void>} */
          const waiting = new Map();
          worker.onmessage = ({ data }) => {
            waiting.get(data.id)?.(data);
            waiting.delete(data.id);
          };
          let nextId = 0;
          const prepared = (/** @type {Blob} */ part) =>
            new Promise((resolve) => {
              const id = nextId++;
              waiting.set(id, resolve);
              worker.postMessage({ id, part, prepare });
            });
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
          const started = await api("/multipart", "POST", {
            partsNumber,
            fileName: "bench.bin",
            contentLength: String(blob.size),
            mimeType: "application/octet-stream",
          });
          const queue = [...started.presignedUrl];
          /** @type {{ partNumber: number, eTag: string }[]} */
          const parts = [];
          await Promise.all(
            Array.from({ length: concurrency }, async () => {
              for (let next = queue.shift(); next; next = queue.shift()) {
                const start = (next.partNumber - 1) * started.partSize;
                const part = blob.slice(start, start + started.partSize);
                if (prepare !== "none" && (await prepared(part)).bytes !== part.size)
                  throw new Error(`part ${next.partNumber}: read short`);
                const response = await fetch(next.presignedUrl, { method: "PUT", body: part });
                if (!response.ok) throw new Error(`part ${next.partNumber}: HTTP ${response.status}`);
                parts.push({ partNumber: next.partNumber, eTag: /** @type {string} */ (response.headers.get("etag")) });
              }
            }),
          );
          parts.sort((a, b) => a.partNumber - b.partNumber);
          await api("/multipart-complete", "PUT", { requestKey: started.requestKey, parts });
          return performance.now() - t0;
        },
        { ...args, prepare },
      );

    /** @type {Record<string, (args: any) => Promise<number>>} */
    const contenders = {
      // Meanwhile the page's responsiveness (issue 15): how long a trivial task (a message to itself, every 25 ms) waits.
      client: async (args) => {
        const probe = await page.evaluateHandle(() => {
          const channel = new MessageChannel();
          const ping = () =>
            new Promise((resolve) => {
              const sent = performance.now();
              channel.port2.onmessage = () => resolve(performance.now() - sent);
              channel.port1.postMessage(null);
            });
          /** @type {number[]} */
          const waits = [];
          let probing = true;
          const done = (async () => {
            while (probing) {
              waits.push(/** @type {number} */ (await ping()));
              await new Promise((resolve) => setTimeout(resolve, 25));
            }
          })();
          return { stop: async () => ((probing = false), await done, waits) };
        });
        try {
          return await ourClient(true)(args);
        } finally {
          pageWaits.push(...(await probe.evaluate((p) => p.stop())));
          await probe.dispose();
        }
      },
      "client-unverified": ourClient(false),
      // The floor: the same start and complete calls, parts as plain fetch PUTs of Blob slices, nothing checked.
      "raw-fetch": rawFetch("none"),
      // What any uploader that checks every byte must add to that floor on this machine: each part read into a Web
      // Worker before it is sent (the bytes a hash needs; a Blob body is read again by the network), and then that
      // plus the cheapest hash a page can compute (Web Crypto's SHA-256, in native code; the stores'
      // Content-MD5 and ETags need MD5, which Web Crypto lacks). Nothing is sent to the store but the bytes.
      "raw-fetch+read": rawFetch("read"),
      "raw-fetch+sha256": rawFetch("sha256"),
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
          if (!result || result.failed.length > 0)
            throw new Error(`Uppy failed: ${result?.failed.map((/** @type {any} */ f) => String(f.error)).join("; ")}`);
          return ms;
        }, args),
    };

    const args = { baseUrl: gateway.url, apiKey, projectId, partSize, concurrency };
    /** @type {number[]} round trips of the trivial task during our client's uploads, ms */
    const pageWaits = [];
    const gigabytes = size / GiB;

    /** One round: every contender `runs` times, alternating, with Chromium's upload limited to `uploadMiBps` if set. */
    const measureRound = async (/** @type {string} */ label, /** @type {number | undefined} */ uploadMiBps) => {
      await devtools.send("Network.emulateNetworkConditions", {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: uploadMiBps ? uploadMiBps * MiB : -1,
      });
      /** @type {Record<string, { seconds: number, chromiumMs: number, storeMs: number, gatewayMs: number }[]>} */
      const measured = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
      for (let run = 0; run < runs; run++) {
        for (const [name, uploadOnce] of Object.entries(contenders)) {
          const chromiumProcesses = chromiumPids();
          const gatewayPids = gateway.child?.pid ? [gateway.child.pid] : [];
          const meter = cpuMeter(gatewayPids);
          const chromium0 = cpuMsOf(chromiumProcesses);
          const ms = await uploadOnce(args);
          const chromiumMs = cpuMsOf(chromiumProcesses) - chromium0;
          const cpu = meter.stop(chromiumMs);
          measured[name].push({ seconds: ms / 1000, chromiumMs, storeMs: cpu.storeMs, gatewayMs: cpu.pidsMs });
          log(
            `browser upload, ${label}: ${name} run ${run + 1}/${runs}: ${(size / MiB / (ms / 1000)).toFixed(1)} MiB/s; ` +
              `CPU s: Chromium ${(chromiumMs / 1000).toFixed(2)}, store ${(cpu.storeMs / 1000).toFixed(2)}, gateway ${(cpu.pidsMs / 1000).toFixed(2)}, other ${((cpu.otherCores * ms) / 1000).toFixed(2)}`,
          );
        }
        // Each cycle stores a file per contender: delete them, and give RGW's garbage collection (every 5 s, see
        // tooling/ceph-rgw) time to free them before the next cycle is timed. Kept, the uploads of both rounds
        // (9 GiB) fill the memstore OSD, and RGW then stops reading part bodies without an error.
        await freeStore();
        await new Promise((resolve) => setTimeout(resolve, 6_000));
      }
      const results = Object.fromEntries(
        Object.entries(measured).map(([name, samples]) => {
          const m = (/** @type {(x: (typeof samples)[number]) => number} */ f) => median(samples.map(f));
          return [
            name,
            {
              seconds: samples.map((x) => round(x.seconds, 3)),
              mibPerSecond: round(size / MiB / m((x) => x.seconds), 1),
              chromiumCpuSecondsPerGiB: round(m((x) => x.chromiumMs) / 1000 / gigabytes, 2),
              storeCpuSecondsPerGiB: round(m((x) => x.storeMs) / 1000 / gigabytes, 2),
              gatewayCpuSecondsPerGiB: round(m((x) => x.gatewayMs) / 1000 / gigabytes, 2),
            },
          ];
        }),
      );
      for (const x of Object.values(results)) {
        x.speedVsRawFetch = round(x.mibPerSecond / results["raw-fetch"].mibPerSecond, 3);
        x.speedVsUppy = round(x.mibPerSecond / results.uppy.mibPerSecond, 3);
      }
      // What checking the parts costs our client: its speed with verification on vs off, in the same run.
      const verificationCost = round(1 - results.client.mibPerSecond / results["client-unverified"].mibPerSecond, 3);
      return { results, verificationCost };
    };

    const unlimited = await measureRound("no network limit", undefined);
    const networkBound = {
      uploadMiBps: networkMiBps,
      ...(await measureRound(`upload limited to ${networkMiBps} MiB/s`, networkMiBps)),
    };
    return {
      size,
      partSize,
      concurrency,
      runs,
      chromium: browser.version(),
      ...unlimited,
      networkBound,
      pageResponsiveness: {
        roundTrips: pageWaits.length,
        medianMs: quantile(sorted(pageWaits), 0.5),
        p95Ms: quantile(sorted(pageWaits), 0.95),
        maxMs: Math.max(...pageWaits),
      },
      contenders: {
        client:
          "@upload-gateway/client upload() in the page: XHR PUTs with Content-MD5 (MD5 computed in its Web Worker ahead of sending), ETag compared where the store's ETags are MD5s",
        "client-unverified":
          "the same with verifyParts: false (no MD5, no Content-MD5): the difference is what verification costs",
        "raw-fetch": "fetch PUTs of Blob slices to the presigned URLs, same start and complete calls, nothing verified",
        "raw-fetch+read":
          "raw-fetch with each part first read whole into a Web Worker (Blob.arrayBuffer()): the read any uploader checking every byte needs",
        "raw-fetch+sha256":
          "raw-fetch+read with each part also hashed by Web Crypto SHA-256 (native code): the cheapest check of every byte a page can compute",
        uppy: "Uppy 5 (@uppy/core + @uppy/aws-s3) with @upload-gateway/uppy's options: Uppy's XHR PUTs in the gateway's part plan, nothing verified (Uppy sends no Content-MD5)",
      },
    };
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
