// The ceiling of the start-throughput test: a bare Fastify handler making the same S3 requests as the gateway's start
// (CreateMultipartUpload, then a PutObject of a small JSON record) and presigning one UploadPart URL per part with the
// same presigner as the gateway, and nothing else: no auth, no validation, no envelope, no part plan.
// Usage: node ceiling.mjs <port> <fast|sdk>   (S3_* / AWS_* from the environment)
import { randomBytes } from "node:crypto";
import { CreateMultipartUploadCommand, PutObjectCommand, S3Client, UploadPartCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import Fastify from "fastify";
import "./lib/common.mjs";
import { loadFastPresigner } from "./lib/fast-presigner.mjs";

const [port, presignerName] = process.argv.slice(2);
const {
  S3_ENDPOINT: endpoint = "",
  S3_REGION: region = "us-east-1",
  S3_BUCKET: Bucket = "",
  S3_FORCE_PATH_STYLE,
} = process.env;
const forcePathStyle = S3_FORCE_PATH_STYLE === "true";
const credentials = {
  accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? "",
  secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? "",
};
const s3 = new S3Client({
  region,
  endpoint,
  forcePathStyle,
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
});
const fast =
  presignerName === "fast"
    ? loadFastPresigner({ region, endpoint, bucket: Bucket, forcePathStyle, credentials })
    : undefined;
if (fast && !fast.available) throw new Error(fast.reason);
// Each URL signs its part's length, as the gateway's do.
/** @typedef {{ partNumber: number, size: number }} PlannedPart */
const signableHeaders = new Set(["content-length"]);
const presign = fast?.available
  ? async (/** @type {string} */ Key, /** @type {string} */ UploadId, /** @type {PlannedPart[]} */ parts) =>
      fast.presignUploadParts(Key, UploadId, parts, 43200)
  : async (/** @type {string} */ Key, /** @type {string} */ UploadId, /** @type {PlannedPart[]} */ parts) =>
      Promise.all(
        parts.map(({ partNumber: PartNumber, size: ContentLength }) =>
          getSignedUrl(s3, new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, ContentLength }), {
            expiresIn: 43200,
            signableHeaders,
          }),
        ),
      );

const app = Fastify();
app.post("/api/projects/:projectId/uploads/multipart", async (request) => {
  const { projectId } = /** @type {{ projectId: string }} */ (request.params);
  const body = /** @type {{ partsNumber: number, fileName: string, mimeType: string, contentLength: string }} */ (
    request.body
  );
  const requestKey = randomBytes(16).toString("base64url");
  const Key = `projects/${projectId}/files/${requestKey}`;
  const { UploadId = "" } = await s3.send(
    new CreateMultipartUploadCommand({
      Bucket,
      Key,
      ContentType: body.mimeType,
      ContentDisposition: `attachment; filename="${body.fileName}"`,
      Metadata: { "request-key": requestKey },
    }),
  );
  const record = {
    requestKey,
    uploadId: UploadId,
    objectKey: Key,
    ...body,
    state: "uploading",
    createdAt: new Date().toISOString(),
  };
  await s3.send(
    new PutObjectCommand({
      Bucket,
      Key: `projects/${projectId}/uploads/${requestKey}.json`,
      Body: JSON.stringify(record),
      ContentType: "application/json",
    }),
  );
  // The gateway's part plan, in its two lines: parts of max(5 MiB, ceil(length / parts)), the rest in the last one.
  const length = Number(body.contentLength);
  const partSize = Math.max(5 * 1024 * 1024, Math.ceil(length / body.partsNumber));
  const parts = Array.from({ length: body.partsNumber }, (_, i) => ({
    partNumber: i + 1,
    size: i + 1 < body.partsNumber ? partSize : length - (body.partsNumber - 1) * partSize,
  }));
  const urls = await presign(Key, UploadId, parts);
  return {
    uploadId: UploadId,
    requestKey,
    presignedUrl: urls.map((presignedUrl, i) => ({ partNumber: i + 1, presignedUrl })),
  };
});
await app.listen({ port: Number(port), host: "127.0.0.1" });
console.log(
  `ceiling listening at http://127.0.0.1:${port} presigning with ${fast?.available ? "SigV4Presigner" : "getSignedUrl"}`,
);
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
