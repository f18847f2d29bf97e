// The test bucket: created when missing, with the CORS rules browsers need to PUT parts and read their ETag.
import {
  CreateBucketCommand,
  GetBucketCorsCommand,
  HeadBucketCommand,
  PutBucketCorsCommand,
  S3Client,
} from "@aws-sdk/client-s3";

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

/**
 * Creates `bucket` on the S3 that `env` names (idempotent) and sets its CORS rules.
 * @param {Record<string, string | undefined>} env S3_ENDPOINT, S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
 * @param {string} bucket
 * @param {(line: string) => void} [log]
 */
export async function ensureBucket(env, bucket, log = () => {}) {
  const { S3_ENDPOINT, S3_REGION = "us-east-1", AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY } = env;
  if (!S3_ENDPOINT || !AWS_ACCESS_KEY_ID || !AWS_SECRET_ACCESS_KEY) {
    throw new Error("ensureBucket: S3_ENDPOINT, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required");
  }
  const s3 = new S3Client({
    endpoint: S3_ENDPOINT,
    region: S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: AWS_ACCESS_KEY_ID, secretAccessKey: AWS_SECRET_ACCESS_KEY },
    requestChecksumCalculation: "WHEN_REQUIRED",
    maxAttempts: 5,
  });
  try {
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      log(`create-bucket: ${bucket} created (RGW also answers 200 when it already exists)`);
    } catch (err) {
      // RGW answers a repeated create by the owner with 200 or BucketAlreadyExists/BucketAlreadyOwnedByYou,
      // depending on version and settings: accept it if the bucket is ours (HeadBucket succeeds).
      const name = /** @type {{ name?: string }} */ (err)?.name;
      if (name !== "BucketAlreadyOwnedByYou" && name !== "BucketAlreadyExists") throw err;
      await s3.send(new HeadBucketCommand({ Bucket: bucket }));
      log(`create-bucket: ${bucket} already exists`);
    }
    await s3.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: corsRules } }));
    const { CORSRules = [] } = await s3.send(new GetBucketCorsCommand({ Bucket: bucket }));
    if (!CORSRules.some((r) => r.ExposeHeaders?.some((h) => h.toLowerCase() === "etag"))) {
      throw new Error(`CORS rules on ${bucket} were not stored: ${JSON.stringify(CORSRules)}`);
    }
    log(
      `create-bucket: CORS set on ${bucket} (GET/PUT/HEAD from *, allows Content-MD5, Content-Type, If-None-Match and x-amz-acl, exposes ETag)`,
    );
  } finally {
    s3.destroy();
  }
}
