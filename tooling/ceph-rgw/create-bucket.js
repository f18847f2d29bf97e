// Creates the test bucket (idempotent) and sets its CORS rules so browsers can PUT parts and read their ETag.
// Run by ceph-rgw.sh up with S3_ENDPOINT, S3_REGION, S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY set.
// Output goes to stderr; stdout stays clean for the env lines.
import { ensureBucket } from "./bucket.js";

const { S3_ENDPOINT, S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY } = process.env;
if (!S3_ENDPOINT || !S3_BUCKET || !AWS_ACCESS_KEY_ID || !AWS_SECRET_ACCESS_KEY) {
  console.error("create-bucket: S3_ENDPOINT, S3_BUCKET, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required");
  process.exit(2);
}
await ensureBucket(process.env, S3_BUCKET, (line) => console.error(line));
