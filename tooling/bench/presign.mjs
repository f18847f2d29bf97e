// Child process of run.mjs: µs per presigned UploadPart URL for the gateway's SigV4Presigner, the SDK's getSignedUrl
// and @smithy/signature-v4's presign, on the same key, upload id and expiry. Prints one JSON line.
// Usage: node presign.mjs <urlsPerRound> <rounds> <warmupUrls>   (S3_* / AWS_* from the environment)
import { S3Client, UploadPartCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { loadFastPresigner } from "./lib/fast-presigner.mjs";
import { median, round } from "./lib/common.mjs";

const [count = 10_000, rounds = 3, warmup = 2_000] = process.argv.slice(2).map(Number);
const env = process.env;
const endpoint = env.S3_ENDPOINT ?? "http://127.0.0.1:7480";
const region = env.S3_REGION ?? "us-east-1";
const bucket = env.S3_BUCKET ?? "upload-gateway-test";
const forcePathStyle = (env.S3_FORCE_PATH_STYLE ?? "true") === "true";
const credentials = {
  accessKeyId: env.AWS_ACCESS_KEY_ID ?? "bench-access",
  secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? "bench-secret",
};

// A key and an upload id of the shapes the gateway and RGW use; 12 h, the gateway's default expiry.
const key = "projects/bench/files/8231768406583Yx3aK0pQ-7dLr2mN9sT4vWq";
const uploadId = "2~Qm7cX1y0aRkT9bVn3eLsZp5uJd8wFhGi";
const expiresIn = 12 * 3600;
// Every part URL signs its length (the gateway binds each part to its planned size): 16 MiB parts.
const partSize = 16 * 1024 * 1024;

const client = new S3Client({
  region,
  endpoint,
  forcePathStyle,
  credentials,
  requestChecksumCalculation: "WHEN_REQUIRED",
});
const url = new URL(endpoint);
const signer = new SignatureV4({
  service: "s3",
  region,
  credentials,
  sha256: Hash.bind(null, "sha256"),
  uriEscapePath: false, // S3 signs the path as sent
  applyChecksum: false,
});
const path = `${url.pathname.replace(/\/$/, "")}/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;

/** One UploadPart request, as getSignedUrl hands it to the signer (UNSIGNED-PAYLOAD; content-length and host signed). */
const smithyRequest = (/** @type {number} */ partNumber) =>
  new HttpRequest({
    method: "PUT",
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path,
    query: { partNumber: String(partNumber), uploadId, "x-id": "UploadPart" },
    // presign hoists x-amz-* headers into the query and takes the payload hash from this one
    headers: { host: url.host, "content-length": String(partSize), "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD" },
  });

const fast = loadFastPresigner({ region, endpoint, bucket, forcePathStyle, credentials });

/** @type {Record<string, (n: number, now?: Date) => Promise<string[]> | string[]>} */
const contenders = {
  getSignedUrl: async (n, now) => {
    const urls = [];
    for (let p = 1; p <= n; p++) {
      const command = new UploadPartCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: p,
        ContentLength: partSize,
      });
      const signableHeaders = new Set(["content-length"]);
      urls.push(
        await getSignedUrl(client, command, { expiresIn, signableHeaders, ...(now ? { signingDate: now } : {}) }),
      );
    }
    return urls;
  },
  smithyPresign: async (n, now) => {
    const urls = [];
    for (let p = 1; p <= n; p++) {
      const signed = await signer.presign(smithyRequest(p), { expiresIn, ...(now ? { signingDate: now } : {}) });
      const query = Object.entries(signed.query).map(
        ([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`,
      );
      urls.push(
        `${signed.protocol}//${signed.hostname}${signed.port ? `:${signed.port}` : ""}${signed.path}?${query.join("&")}`,
      );
    }
    return urls;
  },
};
if (fast.available) {
  const parts = (/** @type {number} */ n) =>
    Array.from({ length: n }, (_, i) => ({ partNumber: i + 1, size: partSize }));
  contenders.ours = (n, now) => fast.presignUploadParts(key, uploadId, parts(n), expiresIn, now);
}

/** @type {Record<string, { usPerUrl: number, rounds: number[], urls: number }>} */
const results = {};
for (const [name, presign] of Object.entries(contenders)) {
  await presign(warmup);
  const perRound = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    const urls = await presign(count);
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    if (urls.length !== count) throw new Error(`${name} returned ${urls.length} URLs, not ${count}`);
    perRound.push(us / count);
  }
  results[name] = { usPerUrl: round(median(perRound), 3), rounds: perRound.map((v) => round(v, 3)), urls: count };
}

// Same inputs, same instant: are the URLs the same? (signatures compared, and the whole URL)
const sample = 50;
const now = new Date();
const signature = (/** @type {string} */ u) => new URL(u).searchParams.get("X-Amz-Signature");
const sdk = await contenders.getSignedUrl(sample, now);
const smithy = await contenders.smithyPresign(sample, now);
const agreement = { smithySignatureEqualsGetSignedUrl: sdk.every((u, i) => signature(u) === signature(smithy[i])) };
if (contenders.ours) {
  const ours = await contenders.ours(sample, now);
  agreement.oursUrlEqualsGetSignedUrl = sdk.every((u, i) => u === ours[i]);
  agreement.oursSignatureEqualsSmithy = smithy.every((u, i) => signature(u) === signature(ours[i]));
}

const baseline = results.getSignedUrl.usPerUrl;
console.log(
  JSON.stringify({
    urlsPerRound: count,
    rounds,
    warmupUrls: warmup,
    expiresInSeconds: expiresIn,
    baseline: "getSignedUrl",
    ours: fast.available
      ? { available: true, ...results.ours, speedup: round(baseline / results.ours.usPerUrl, 1) }
      : { available: false, reason: fast.reason },
    getSignedUrl: { ...results.getSignedUrl, speedup: 1 },
    smithyPresign: { ...results.smithyPresign, speedup: round(baseline / results.smithyPresign.usPerUrl, 2) },
    agreement,
  }),
);
