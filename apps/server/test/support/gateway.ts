import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NestFastifyApplication } from "@nestjs/platform-fastify";
import { createApp, type GatewayExtensions } from "../../src/app.factory";
import { S3Storage } from "../../src/storage/s3.storage";
import { sha256Hex } from "../../src/auth/project-registry";
import { loadConfig } from "../../src/config/app-config";
import { freePort } from "./server-process";

export { freePort };

export interface TestGateway {
  app: NestFastifyApplication;
  /** The gateway's data directory (local storage). */
  dir: string;
  /** A project every test file gets to itself, so runs never see each other's uploads. */
  projectId: string;
  /** A project that accepts only video/* up to 20 MiB. */
  restrictedProjectId: string;
  /** A project that allows 3 uploads in progress at once (`maxOpenUploads`). */
  limitedProjectId: string;
  /** A project `apiKey` may not use. */
  foreignProjectId: string;
  apiKey: string;
  foreignKey: string;
  auth: { authorization: string };
  close(): Promise<void>;
}

/** The S3 variables the global setup exported (a running Ceph RGW, or the S3 given by the caller). */
export function s3Env(): Record<string, string | undefined> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(S3_|AWS_)/.test(k)));
  if (!env.S3_ENDPOINT || !env.S3_BUCKET) {
    throw new Error("No S3 for the tests: the RGW global setup did not run and S3_ENDPOINT/S3_BUCKET are not set");
  }
  return env;
}

/** The S3 adapter on the test S3, for tests of the storage port itself. */
export function testS3Storage(): S3Storage {
  const env = s3Env();
  return new S3Storage({
    bucket: env.S3_BUCKET!,
    region: env.S3_REGION ?? "us-east-1",
    endpoint: env.S3_ENDPOINT,
    forcePathStyle: true,
    credentials:
      env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
        ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY }
        : undefined,
  });
}

/**
 * A gateway with its own projects file; `env` overrides any variable. On the test S3 by default; with
 * `storage: "local"` it uses a fresh data directory and listens on loopback, since its part URLs point at itself.
 */
export async function startGateway(
  env: Record<string, string> = {},
  storage: "s3" | "local" = "s3",
  /** More settings of the main project in the projects file (e.g. `allowedOrigins`). */
  project: Record<string, unknown> = {},
  /** Hooks and the like an embedding application would add. */
  extensions: GatewayExtensions = {},
): Promise<TestGateway> {
  const run = randomBytes(6).toString("hex");
  const projectId = `p-${run}`;
  const restrictedProjectId = `r-${run}`;
  const foreignProjectId = `f-${run}`;
  const limitedProjectId = `l-${run}`;
  const apiKey = `key-${randomBytes(16).toString("hex")}`;
  const foreignKey = `key-${randomBytes(16).toString("hex")}`;
  const dir = mkdtempSync(join(tmpdir(), "gateway-test-"));
  const projectsFile = join(dir, "projects.json");
  writeFileSync(
    projectsFile,
    JSON.stringify({
      projects: [
        { id: projectId, ...project },
        { id: restrictedProjectId, allowedMimeTypes: ["video/*"], maxFileSize: 20 * 1024 * 1024 },
        { id: foreignProjectId },
        { id: limitedProjectId, maxOpenUploads: 3 },
      ],
      apiKeys: [
        { name: "test", sha256: sha256Hex(apiKey), projects: [projectId, restrictedProjectId, limitedProjectId] },
        { name: "foreign", sha256: sha256Hex(foreignKey), projects: [foreignProjectId] },
      ],
    }),
  );
  const port = storage === "local" ? await freePort() : 0;
  const backend =
    storage === "s3"
      ? { ...s3Env(), STORAGE: "s3" }
      : { STORAGE: "local", LOCAL_STORAGE_DIR: join(dir, "data"), PORT: String(port) };
  // No rate limits unless a test asks for them: suites send hundreds of requests a minute from one key (test/rate-limit.e2e.test.ts tests the limits).
  const config = loadConfig({ ...backend, PROJECTS_FILE: projectsFile, LOG_LEVEL: "silent", RATE_LIMIT_PER_MINUTE: "0", RATE_LIMIT_PER_IP_PER_MINUTE: "0", ...env });
  const app = await createApp(config, {}, extensions);
  if (storage === "local") await app.listen(config.PORT, "127.0.0.1");
  return {
    app,
    dir: join(dir, "data"),
    projectId,
    restrictedProjectId,
    limitedProjectId,
    foreignProjectId,
    apiKey,
    foreignKey,
    auth: { authorization: `Bearer ${apiKey}` },
    async close() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
