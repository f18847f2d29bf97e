// S3 housekeeping for the benchmark: emptying its prefix, checking objects, and counting a server's S3 requests.
import { createServer, request as httpRequest } from "node:http";
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";

/** @param {Record<string, string>} env S3_* / AWS_* */
export function s3Client(env) {
  return new S3Client({
    region: env.S3_REGION,
    endpoint: env.S3_ENDPOINT,
    forcePathStyle: env.S3_FORCE_PATH_STYLE === "true",
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID ?? "", secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? "" },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 5,
  });
}

/**
 * Runs `fn` over `items`, `n` at a time.
 * @template T
 * @param {T[]} items
 * @param {number} n
 * @param {(item: T) => Promise<unknown>} fn
 */
export async function pool(items, n, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/**
 * Aborts every multipart upload and deletes every object under `prefix`.
 * @param {S3Client} s3
 * @param {string} bucket
 * @param {string} prefix
 * @returns {Promise<{ abortedUploads: number, deletedObjects: number }>}
 */
export async function emptyPrefix(s3, bucket, prefix) {
  /** @type {{ Key: string, UploadId: string }[]} */
  const uploads = [];
  let keyMarker;
  let uploadIdMarker;
  for (;;) {
    const page = await s3.send(
      new ListMultipartUploadsCommand({
        Bucket: bucket,
        Prefix: prefix,
        KeyMarker: keyMarker,
        UploadIdMarker: uploadIdMarker,
      }),
    );
    for (const u of page.Uploads ?? []) if (u.Key && u.UploadId) uploads.push({ Key: u.Key, UploadId: u.UploadId });
    if (!page.IsTruncated) break;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
  await pool(uploads, 32, async (u) => {
    try {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, ...u }));
    } catch (error) {
      if (/** @type {{ name?: string }} */ (error).name !== "NoSuchUpload") throw error;
    }
  });
  /** @type {string[]} */
  const keys = [];
  let token;
  for (;;) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    if (!page.IsTruncated) break;
    token = page.NextContinuationToken;
  }
  await pool(keys, 32, (Key) => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key })));
  return { abortedUploads: uploads.length, deletedObjects: keys.length };
}

/** @param {S3Client} s3 @param {string} bucket @param {string} key @returns {Promise<number | undefined>} */
export async function objectSize(s3, bucket, key) {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return head.ContentLength;
}

/**
 * The S3 operation of a request, from its method and query (path-style requests to one bucket).
 * @param {string} method
 * @param {URL} url
 */
function operationOf(method, url) {
  const q = url.searchParams;
  const hasKey = url.pathname.split("/").filter(Boolean).length > 1;
  if (method === "POST" && q.has("uploads")) return "CreateMultipartUpload";
  if (method === "POST" && q.has("uploadId")) return "CompleteMultipartUpload";
  if (method === "PUT" && q.has("uploadId")) return "UploadPart";
  if (method === "PUT" && hasKey) return "PutObject";
  if (method === "DELETE" && q.has("uploadId")) return "AbortMultipartUpload";
  if (method === "DELETE") return "DeleteObject";
  if (method === "GET" && q.has("uploadId")) return "ListParts";
  if (method === "GET" && hasKey) return "GetObject";
  if (method === "GET") return "ListObjects";
  if (method === "HEAD") return hasKey ? "HeadObject" : "HeadBucket";
  return `${method} ${url.pathname}`;
}

/**
 * A pass-through HTTP proxy in front of S3 that counts requests by S3 operation: what a server really sends.
 * @param {string} target e.g. http://127.0.0.1:7480
 */
export async function startCountingProxy(target) {
  const upstream = new URL(target);
  /** @type {Record<string, number>} */
  let counts = {};
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", target);
    const op = operationOf(req.method ?? "GET", url);
    counts[op] = (counts[op] ?? 0) + 1;
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    /** The counts so far, and a fresh start. */
    take() {
      const taken = counts;
      counts = {};
      return taken;
    },
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}
