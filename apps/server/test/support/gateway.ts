import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { FastifyAdapter, type NestFastifyApplication } from "@nestjs/platform-fastify";
import { createApp, type GatewayExtensions } from "../../src/standalone/app.factory";
import { UploadGatewayModule } from "../../src/gateway/upload-gateway.module";
import type { UploadGatewayOptions } from "../../src/gateway/upload-gateway.options";
import { S3Storage, type S3StorageOptions } from "../../src/storage/s3.storage";
import { sha256Hex } from "../../src/auth/project-registry";
import { loadConfig } from "../../src/config/app-config";
import type { LoggerOptions } from "../../src/observability/logger";
import { freePort } from "./server-process";

export { freePort };

/** An embedding app at its smallest: a Nest app on Fastify importing only `UploadGatewayModule.forRoot(options)`, initialised, not listening. */
export async function moduleApp(options: UploadGatewayOptions): Promise<NestFastifyApplication> {
  @Module({ imports: [UploadGatewayModule.forRoot(options)] })
  class EmbeddingAppModule {}
  const app = await NestFactory.create<NestFastifyApplication>(EmbeddingAppModule, new FastifyAdapter(), {
    logger: false,
  });
  await app.init();
  return app;
}

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

/** The test S3's keys when the environment names them (otherwise the SDK's own chain finds them). */
function testS3Credentials(env: Record<string, string | undefined>) {
  return env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
    ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY }
    : undefined;
}

/** The S3 adapter on the test S3, for tests of the storage port itself. */
export function testS3Storage(options: Partial<S3StorageOptions> = {}): S3Storage {
  const env = s3Env();
  return new S3Storage({
    bucket: env.S3_BUCKET!,
    region: env.S3_REGION ?? "us-east-1",
    endpoint: env.S3_ENDPOINT,
    forcePathStyle: true,
    credentials: testS3Credentials(env),
    ...options,
  });
}

/** The embeddable module's `storage` option for the test S3 (tests of `UploadGatewayModule.forRoot`). */
export function testS3StorageOption() {
  const env = s3Env();
  const credentials = testS3Credentials(env);
  return {
    type: "s3" as const,
    bucket: env.S3_BUCKET!,
    endpoint: env.S3_ENDPOINT!,
    forcePathStyle: true,
    ...(credentials ? { credentials } : {}),
  };
}

/** No rate limits: suites send hundreds of requests a minute from one key (test/rate-limit.e2e.test.ts tests the limits). */
export const NO_RATE_LIMITS = { RATE_LIMIT_PER_MINUTE: "0", RATE_LIMIT_PER_IP_PER_MINUTE: "0" } as const;

/** The settings of one throwaway gateway; everything has a default. */
export interface GatewayAppOptions {
  /** The store: the embedded one ("local", the default) or the test S3. */
  storage?: "s3" | "local";
  /**
   * The folder of the projects file and of the embedded store's data (`<dir>/data`). Replicas and restarts of one
   * gateway share it; the caller deletes it. Default: a fresh folder that `close()` deletes.
   */
  dir?: string;
  /** The projects file's content, written to `<dir>/projects.json` (PROJECTS_FILE); none by default. */
  projects?: unknown;
  /** Variables of the environment, over the defaults (LOG_LEVEL silent, the store's variables). */
  env?: Record<string, string>;
  /** Where the logger writes its lines, for tests that read them. */
  logging?: LoggerOptions;
  /** Hooks and the like an embedding application would add. */
  extensions?: GatewayExtensions;
  /** Listen on a free loopback port (PORT), needed where part URLs of the embedded store are fetched. */
  listen?: boolean;
}

export interface GatewayApp {
  app: NestFastifyApplication;
  /** The folder of the projects file and of `data/`, the embedded store. */
  dir: string;
  /** Closes the app, and deletes the folder when this call made it. */
  close(): Promise<void>;
}

/** One gateway for a test, as the bin would build it from its environment. */
export async function createGatewayApp(options: GatewayAppOptions = {}): Promise<GatewayApp> {
  const { storage = "local", projects, env = {}, logging = {}, extensions = {}, listen = false } = options;
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "gateway-test-"));
  const port = listen ? await freePort() : undefined;
  const backend: Record<string, string> =
    storage === "s3" ? { ...s3Env(), STORAGE: "s3" } : { STORAGE: "local", LOCAL_STORAGE_DIR: join(dir, "data") };
  if (port !== undefined) backend.PORT = String(port);
  if (projects !== undefined) {
    backend.PROJECTS_FILE = join(dir, "projects.json");
    writeFileSync(backend.PROJECTS_FILE, JSON.stringify(projects));
  }
  const config = loadConfig({ ...backend, LOG_LEVEL: "silent", ...env });
  let app: NestFastifyApplication;
  try {
    app = await createApp(config, logging, extensions);
    if (port !== undefined) await app.listen(port, "127.0.0.1");
  } catch (error) {
    if (ownsDir) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    app,
    dir,
    async close() {
      await app.close();
      if (ownsDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The gateways a test file starts, closed together (`afterEach(() => gateways.closeAll())`), so that a failing test
 * leaves no server behind.
 */
export function throwawayGateways() {
  const open = new Map<NestFastifyApplication, GatewayApp>();
  return {
    async start(options: GatewayAppOptions = {}): Promise<NestFastifyApplication> {
      const gateway = await createGatewayApp(options);
      open.set(gateway.app, gateway);
      return gateway.app;
    },
    /** Stops one gateway before the test ends (a restart, a replica going away). */
    async close(app: NestFastifyApplication): Promise<void> {
      const gateway = open.get(app);
      open.delete(app);
      await gateway?.close();
    },
    async closeAll(): Promise<void> {
      const gateways = [...open.values()];
      open.clear();
      await Promise.all(gateways.map((gateway) => gateway.close()));
    },
  };
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
  const gateway = await createGatewayApp({
    storage,
    projects: {
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
    },
    env: { ...NO_RATE_LIMITS, ...env },
    extensions,
    listen: storage === "local",
  });
  return {
    app: gateway.app,
    dir: join(gateway.dir, "data"),
    projectId,
    restrictedProjectId,
    limitedProjectId,
    foreignProjectId,
    apiKey,
    foreignKey,
    auth: { authorization: `Bearer ${apiKey}` },
    close: () => gateway.close(),
  };
}
