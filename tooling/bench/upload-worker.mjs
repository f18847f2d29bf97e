// Child process of run.mjs: ONE upload of a file by ONE contender, alone in its process so that its peak RSS is its
// own. Prints one JSON line: { contender, bytes, seconds, mibPerSecond, cpuSeconds, peakRss, baselineRss, loadedRss,
// rssByQuarter, peakHeapTotal, peakArrayBuffers, retries (ours), key }.
// Usage: node upload-worker.mjs <client|lib-storage|raw-presigned|tus> <file> '<json options>'
//   options: { baseUrl, apiKey, projectId, partSize, concurrency, tusEndpoint }   (S3_* / AWS_* from the environment)
import { randomBytes } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { basename } from "node:path";
import { memoryOf } from "./lib/common.mjs";

const [contender, file, optionsJson] = process.argv.slice(2);
/** @type {{ baseUrl: string, apiKey: string, projectId: string, partSize: number, concurrency: number, tusEndpoint?: string }} */
const options = JSON.parse(optionsJson ?? "{}");
const size = statSync(file).size;
const env = process.env;

// Each contender imports only what it uses, so that no contender's RSS carries another's modules. The imports run
// before the clock starts (a server or CLI has them loaded already); their memory counts in the peak RSS.
const load = {
  client: () => import("@upload-gateway/client/node"),
  "lib-storage": () => Promise.all([import("@aws-sdk/client-s3"), import("@aws-sdk/lib-storage")]),
  "raw-presigned": async () => undefined,
  tus: () => import("tus-js-client"),
};
/** @type {any} */
let modules;
let retries = 0; // parts our client re-sent (stalls, errors, ETag mismatches): they would skew its figures

/** @type {Record<string, () => Promise<string>>} each returns the object's key in the bucket */
const contenders = {
  // Our Node client: streams each part from the file with node:http, MD5-checks ETags.
  async client() {
    const { uploadFile } = modules;
    const { requestKey } = await uploadFile(file, {
      baseUrl: options.baseUrl,
      apiKey: options.apiKey,
      projectId: options.projectId,
      partSize: options.partSize,
      concurrency: options.concurrency,
      onPartState: (_part, state) => void (state === "retrying" && retries++),
    });
    return `projects/${options.projectId}/files/${requestKey}`;
  },

  // The AWS SDK's managed upload, straight to S3 with the same credentials the gateway has, from a file stream.
  async "lib-storage"() {
    const [{ S3Client }, { Upload }] = modules;
    const client = new S3Client({
      region: env.S3_REGION,
      endpoint: env.S3_ENDPOINT,
      forcePathStyle: env.S3_FORCE_PATH_STYLE === "true",
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    const Key = `projects/${options.projectId}/lib-storage/${randomBytes(8).toString("hex")}`;
    const upload = new Upload({
      client,
      params: { Bucket: env.S3_BUCKET, Key, Body: createReadStream(file), ContentType: "video/mp4" },
      queueSize: options.concurrency,
      partSize: options.partSize,
      leavePartsOnError: false,
    });
    await upload.done();
    client.destroy();
    return Key;
  },

  // tus-js-client with its default settings (one PATCH of the whole file, read from disk) into @tus/server.
  async tus() {
    const { Upload } = modules;
    return new Promise((resolve, reject) => {
      const upload = new Upload(createReadStream(file), {
        endpoint: options.tusEndpoint,
        metadata: { filename: basename(file), filetype: "video/mp4" },
        onError: reject,
        onSuccess: () => resolve(/** @type {string} */ (upload.url)),
      });
      upload.start();
    });
  },

  // The least a client can do: start through the gateway, PUT each part with fetch to its presigned URL, `concurrency`
  // at a time, and complete. No retries, no checks. Each part is read from the file at its offset into a buffer of the
  // part's size (one per worker, reused): fs.openAsBlob's slices are wrong from 4 GiB on (nodejs/node#52585), and fetch
  // sends a stream body chunked, which S3's presigned PUTs refuse.
  async "raw-presigned"() {
    const api = `${options.baseUrl}/api/projects/${options.projectId}/uploads`;
    const headers = { authorization: `Bearer ${options.apiKey}`, "content-type": "application/json" };
    const partsNumber = Math.ceil(size / options.partSize);
    const startReply = await fetch(`${api}/multipart`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        partsNumber,
        fileName: basename(file),
        contentLength: String(size),
        mimeType: "video/mp4",
      }),
    });
    const started =
      /** @type {{ result: { requestKey: string, partSize: number, presignedUrl: { partNumber: number, presignedUrl: string }[] } }} */ (
        await startReply.json()
      ).result;
    if (!startReply.ok) throw new Error(`start failed: ${startReply.status} ${JSON.stringify(started)}`);
    const handle = await open(file, "r");
    const queue = [...started.presignedUrl];
    /** @type {{ partNumber: number, eTag: string }[]} */
    const parts = [];
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        const buffer = Buffer.allocUnsafe(started.partSize);
        for (let next = queue.shift(); next; next = queue.shift()) {
          const from = (next.partNumber - 1) * started.partSize;
          const length = Math.min(size, from + started.partSize) - from;
          const { bytesRead } = await handle.read(buffer, 0, length, from);
          if (bytesRead !== length) throw new Error(`part ${next.partNumber}: read ${bytesRead} of ${length} bytes`);
          const reply = await fetch(next.presignedUrl, { method: "PUT", body: buffer.subarray(0, length) });
          await reply.arrayBuffer();
          const eTag = reply.headers.get("etag");
          if (!reply.ok || !eTag) throw new Error(`part ${next.partNumber}: ${reply.status}`);
          parts.push({ partNumber: next.partNumber, eTag });
        }
      }),
    );
    await handle.close();
    parts.sort((a, b) => a.partNumber - b.partNumber);
    const done = await fetch(`${api}/multipart-complete`, {
      method: "PUT",
      headers,
      body: JSON.stringify({ requestKey: started.requestKey, parts }),
    });
    if (!done.ok) throw new Error(`complete failed: ${done.status} ${await done.text()}`);
    return `projects/${options.projectId}/files/${started.requestKey}`;
  },
};

const run = contenders[contender ?? ""];
if (!run) throw new Error(`unknown contender ${contender}; one of ${Object.keys(contenders).join(", ")}`);
const baselineRss = memoryOf().rss; // Node itself
modules = await load[/** @type {keyof typeof load} */ (contender)]();
const loadedRss = memoryOf().rss; // with the contender's modules
// RSS every 20 ms, to tell a plateau from growth: the largest sample in each quarter of the upload. And where the
// memory is: the largest V8 heap, and the largest memory held by ArrayBuffers/Buffers (outside the heap), seen.
/** @type {[number, number][]} */
const samples = [];
const peaks = { heapTotal: 0, arrayBuffers: 0 };
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  samples.push([performance.now() - t0, m.rss]);
  peaks.heapTotal = Math.max(peaks.heapTotal, m.heapTotal);
  peaks.arrayBuffers = Math.max(peaks.arrayBuffers, m.arrayBuffers);
}, 20);
const key = await run();
clearInterval(sampler);
const cpu = process.cpuUsage(cpu0);
const ms = performance.now() - t0;
const rssByQuarter = [0, 1, 2, 3].map((q) =>
  Math.max(0, ...samples.filter(([t]) => t >= (q * ms) / 4 && t < ((q + 1) * ms) / 4).map(([, rss]) => rss)),
);
const { peakRss } = memoryOf(); // VmHWM: the true peak of this process, tracked by the kernel
console.log(
  JSON.stringify({
    contender,
    bytes: size,
    seconds: ms / 1000,
    mibPerSecond: size / 1048576 / (ms / 1000),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    peakRss,
    baselineRss,
    loadedRss,
    rssByQuarter,
    peakHeapTotal: peaks.heapTotal,
    peakArrayBuffers: peaks.arrayBuffers,
    ...(contender === "client" ? { retries } : {}),
    key,
  }),
);
