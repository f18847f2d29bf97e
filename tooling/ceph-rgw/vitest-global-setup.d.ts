import type { TestProject } from "vitest/node";
import type { S3Env } from "./index.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** S3_ENDPOINT, S3_REGION, S3_FORCE_PATH_STYLE, S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY. */
    s3Env: S3Env;
  }
}

/** vitest globalSetup: starts (or reuses) the test RGW unless S3_ENDPOINT is set; returns the teardown. */
export default function setup(project?: Pick<TestProject, "provide">): Promise<() => Promise<void>>;
