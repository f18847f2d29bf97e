// Creates the test bucket (idempotent) and sets its CORS rules so browsers can PUT parts and read their ETag.
// Run by ceph-rgw.sh up with S3_ENDPOINT, S3_REGION, S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY set.
// Output goes to stderr; stdout stays clean for the env lines.
import {
  CreateBucketCommand,
  GetBucketCorsCommand,
  HeadBucketCommand,
  PutBucketCorsCommand,
  S3Client,
} from "@aws-sdk/client-s3";

const { S3_ENDPOINT, S3_REGION = "us-east-1", S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY } = process.env;
if (!S3_ENDPOINT || !S3_BUCKET || !AWS_ACCESS_KEY_ID || !AWS_SECRET_ACCESS_KEY) {
  console.error("create-bucket: S3_ENDPOINT, S3_BUCKET, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required");
  process.exit(2);
}

const corsRules = [
  {
    AllowedOrigins: ["*"],
    AllowedMethods: ["GET", "PUT", "HEAD"],
    // The client sends each part's MD5 as Content-MD5 (the store verifies it), a header browsers preflight: without
    // it here, every cross-origin part PUT is refused. Content-Type for files whose type the browser sends, and
    // If-None-Match and x-amz-acl, which single-PUT URLs are signed for (they store once, and privately).
    AllowedHeaders: ["Content-MD5", "Content-Type", "If-None-Match", "x-amz-acl"],
    ExposeHeaders: ["ETag", "Retry-After"],
    MaxAgeSeconds: 3600,
  },
];

const s3 = new S3Client({
  endpoint: S3_ENDPOINT,
  region: S3_REGION,
  forcePathStyle: true,
  credentials: { accessKeyId: AWS_ACCESS_KEY_ID, secretAccessKey: AWS_SECRET_ACCESS_KEY },
  requestChecksumCalculation: "WHEN_REQUIRED",
  maxAttempts: 5,
});

try {
  await s3.send(new CreateBucketCommand({ Bucket: S3_BUCKET }));
  console.error(`create-bucket: ${S3_BUCKET} created (RGW also answers 200 when it already exists)`);
} catch (err) {
  // RGW answers a repeated create by the owner with 200 or BucketAlreadyExists/BucketAlreadyOwnedByYou,
  // depending on version and settings: accept it if the bucket is ours (HeadBucket succeeds).
  if (err?.name !== "BucketAlreadyOwnedByYou" && err?.name !== "BucketAlreadyExists") throw err;
  await s3.send(new HeadBucketCommand({ Bucket: S3_BUCKET }));
  console.error(`create-bucket: ${S3_BUCKET} already exists`);
}

await s3.send(new PutBucketCorsCommand({ Bucket: S3_BUCKET, CORSConfiguration: { CORSRules: corsRules } }));
const { CORSRules = [] } = await s3.send(new GetBucketCorsCommand({ Bucket: S3_BUCKET }));
if (!CORSRules.some((r) => r.ExposeHeaders?.some((h) => h.toLowerCase() === "etag"))) {
  throw new Error(`CORS rules on ${S3_BUCKET} were not stored: ${JSON.stringify(CORSRules)}`);
}
console.error(
  `create-bucket: CORS set on ${S3_BUCKET} (GET/PUT/HEAD from *, allows Content-MD5, Content-Type, If-None-Match and x-amz-acl, exposes ETag)`,
);
