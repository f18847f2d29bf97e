import type { Logger } from "pino";
import type { AuthResolver, ProjectDefaults } from "../auth/auth-resolver";
import { parseProjectsFile, readProjectsFile, type ProjectsFile } from "../auth/projects-file";
import { ConfigError, loadConfig, type AppConfig, type S3Credentials } from "../config/app-config";
import type { UploadLifecycleHooks } from "../lifecycle/upload-lifecycle.hooks";
import { createLogger } from "../observability/logger";
import type { StorageCallObserver } from "../observability/instrumented-storage";
import { S3Storage } from "../storage/s3.storage";
import type { Storage } from "../storage/storage.port";
import type { StartBodySchema } from "../uploads/start-body";
import type { ObjectKeyNamer } from "../uploads/upload-keys";
import type { GatewaySetup } from "./gateway-setup.module";

/** The embedded store: files on this machine's disk, its part and download URLs served by the gateway itself. */
export interface LocalStorageSettings {
  type: "local";
  /** Data directory (created if missing). */
  dir: string;
  /** HMAC key of its URLs, at least 32 characters; generated once and kept in `dir` when omitted. */
  signingSecret?: string;
  /** `fsync` each part before answering its PUT (default true; false is faster and not power-loss safe). */
  fsync?: boolean;
}

/** An S3 bucket (or any S3-compatible store): clients PUT the parts straight to it. */
export interface S3StorageSettings {
  type: "s3";
  bucket: string;
  region?: string;
  /** The S3 endpoint, e.g. `http://127.0.0.1:7480`; AWS when omitted. */
  endpoint?: string;
  /** The endpoint signed into presigned URLs, when clients reach S3 by another name. */
  publicEndpoint?: string;
  forcePathStyle?: boolean;
  /** Static credentials; the AWS SDK's default chain when omitted. */
  credentials?: S3Credentials;
  /** False when part ETags are not MD5s (SSE-KMS, SSE-C). Default true. */
  eTagsAreMd5?: boolean;
}

/** Who may use which project: API keys (inline or in a projects file), or a resolver of the embedding app's own. */
export type UploadGatewayAuth =
  | { projects: ProjectsFile }
  | { projectsFile: string }
  | { resolve: AuthResolver };

export interface UploadGatewayOptions {
  /** An adapter implementing the `Storage` port, or the settings of one of the gateway's own. */
  storage: Storage | LocalStorageSettings | S3StorageSettings;
  auth: UploadGatewayAuth;
  /**
   * Where clients reach the embedding app (`https://app.example.com`), without the gateway's `path`: the embedded
   * store's part and download URLs and the API docs start with it. Required with `{ type: "local" }` storage.
   */
  publicUrl?: string;
  /** Names the object each upload becomes; `projects/{projectId}/files/{requestKey}` by default. */
  objectKey?: ObjectKeyNamer;
  /**
   * The start body extended with fields of the app's own: `refineStartUpload(startUploadBodyBase.extend({ ... }))`.
   * Starts are validated with it (a missing or bad field is a 400 naming it) and the hooks see its fields on `body`.
   */
  startBody?: StartBodySchema;
  /**
   * In-process hooks into every upload's life: `beforeStart` may refuse a start (throw an `UploadRefusedError`) or
   * choose its object key and metadata; `onStarted`, `onCompleted`, `onAborted` and `onExpired` run once each.
   */
  hooks?: UploadLifecycleHooks;
  /**
   * Delivery of the projects' signed webhooks (`webhooks` in their entries): the same settings as the standalone
   * server's `WEBHOOK_*` variables. Private and loopback targets are refused unless `allowPrivateNetworks`.
   */
  webhooks?: {
    allowPrivateNetworks?: boolean;
    timeoutSeconds?: number;
    retryBaseSeconds?: number;
    retryMaxSeconds?: number;
    retryForSeconds?: number;
    pollIntervalSeconds?: number;
  };
  /** Rules for every project whose own entry does not set them, and the lifetime of download URLs. */
  limits?: ProjectDefaults & { downloadUrlExpirySeconds?: number };
  /** The pino logger for storage failures outside requests; JSON lines on stdout by default. */
  logger?: Logger;
}

/** A path prefix as Nest and Fastify want it: "" for the root, else "/a/b" (one leading slash, no trailing one). */
export function normalizePrefix(path: string | undefined): string {
  const trimmed = (path ?? "").replace(/^\/+|\/+$/g, "");
  if (trimmed !== "" && !/^[A-Za-z0-9._~!$&'()*+,;=:@%-]+(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*$/.test(trimmed)) {
    throw new ConfigError([`path: ${JSON.stringify(path)} is not a URL path such as "/media"`]);
  }
  return trimmed === "" ? "" : `/${trimmed}`;
}

const isAdapter = (storage: UploadGatewayOptions["storage"]): storage is Storage =>
  typeof (storage as Storage).createMultipartUpload === "function";

/**
 * Turns the module's options into the gateway's setup: the same validated configuration the environment gives the
 * standalone server, with the settings the options do not cover at their defaults. `base` is that configuration
 * (`createUploadGateway` passes its server settings in it).
 */
export function setupFromOptions(
  options: UploadGatewayOptions,
  path: string,
  observeStorage: StorageCallObserver,
  base: AppConfig = loadConfig({}),
): GatewaySetup {
  const problems: string[] = [];
  const publicUrl = options.publicUrl === undefined ? undefined : checkedUrl(options.publicUrl, "publicUrl", problems);
  const config: AppConfig = {
    ...base,
    ...(publicUrl ? { PUBLIC_URL: `${publicUrl}${path}` } : {}),
    ...storageConfig(options.storage, publicUrl, problems),
    ...(options.limits?.downloadUrlExpirySeconds === undefined
      ? {}
      : { DOWNLOAD_URL_EXPIRY_SECONDS: checkedSeconds(options.limits.downloadUrlExpirySeconds, problems) }),
    ...webhookConfig(options.webhooks, problems),
    // The options decide who gets in: never the dev project and its generated key.
    PROJECTS_FILE: undefined,
    DEV_API_KEY: undefined,
  };
  const auth = options.auth as Partial<{ projects: ProjectsFile; projectsFile: string; resolve: AuthResolver }>;
  let projects: ProjectsFile | null = null;
  if (typeof auth.resolve === "function") projects = null;
  else if (auth.projects) projects = parseProjectsFile(auth.projects, "(auth.projects)");
  else if (typeof auth.projectsFile === "string") projects = readProjectsFile(auth.projectsFile);
  else problems.push("auth: must be { projects }, { projectsFile } or { resolve }");
  if (problems.length > 0) throw new ConfigError(problems);
  const { downloadUrlExpirySeconds: _, ...projectDefaults } = options.limits ?? {};
  return {
    config,
    projects,
    logger: options.logger ?? createLogger(config),
    observeStorage,
    ...(isAdapter(options.storage) ? { storage: options.storage } : {}),
    ...(typeof auth.resolve === "function" ? { authResolver: auth.resolve } : {}),
    ...(Object.keys(projectDefaults).length > 0 ? { projectDefaults } : {}),
    ...(options.objectKey ? { objectKey: options.objectKey } : {}),
    ...(options.startBody ? { startBody: options.startBody } : {}),
    ...(options.hooks ? { hooks: options.hooks } : {}),
  };
}

function storageConfig(storage: UploadGatewayOptions["storage"], publicUrl: string | undefined, problems: string[]): Partial<AppConfig> {
  // The health check names the kind of store; the store's own settings are the adapter's business.
  if (isAdapter(storage)) return { STORAGE: storage instanceof S3Storage ? "s3" : "local" };
  if (storage?.type === "local") {
    if (!publicUrl) problems.push('publicUrl: is required with { type: "local" } storage: its part and download URLs point there');
    if (typeof storage.dir !== "string" || storage.dir === "") problems.push("storage.dir: must be a directory");
    if (storage.signingSecret !== undefined && storage.signingSecret.length < 32) {
      problems.push("storage.signingSecret: must be at least 32 characters");
    }
    return {
      STORAGE: "local",
      LOCAL_STORAGE_DIR: storage.dir,
      LOCAL_SIGNING_SECRET: storage.signingSecret,
      LOCAL_STORAGE_FSYNC: storage.fsync ?? true,
    };
  }
  if (storage?.type === "s3") {
    if (typeof storage.bucket !== "string" || storage.bucket.length < 3) problems.push("storage.bucket: must be a bucket name");
    return {
      STORAGE: "s3",
      S3_BUCKET: storage.bucket,
      S3_REGION: storage.region ?? "us-east-1",
      S3_ENDPOINT: storage.endpoint === undefined ? undefined : checkedUrl(storage.endpoint, "storage.endpoint", problems),
      S3_PUBLIC_ENDPOINT:
        storage.publicEndpoint === undefined ? undefined : checkedUrl(storage.publicEndpoint, "storage.publicEndpoint", problems),
      S3_FORCE_PATH_STYLE: storage.forcePathStyle ?? false,
      S3_ETAGS_ARE_MD5: storage.eTagsAreMd5 ?? true,
      AWS_ACCESS_KEY_ID: storage.credentials?.accessKeyId,
      AWS_SECRET_ACCESS_KEY: storage.credentials?.secretAccessKey,
      AWS_SESSION_TOKEN: storage.credentials?.sessionToken,
    };
  }
  problems.push('storage: must be a Storage adapter, { type: "local", ... } or { type: "s3", ... }');
  return {};
}

function webhookConfig(webhooks: UploadGatewayOptions["webhooks"], problems: string[]): Partial<AppConfig> {
  if (!webhooks) return {};
  const seconds = (value: number | undefined, name: string) => {
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) problems.push(`webhooks.${name}: must be a number of seconds above 0`);
    return value;
  };
  const settings: Partial<AppConfig> = {
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: webhooks.allowPrivateNetworks,
    WEBHOOK_TIMEOUT_SECONDS: seconds(webhooks.timeoutSeconds, "timeoutSeconds"),
    WEBHOOK_RETRY_BASE_SECONDS: seconds(webhooks.retryBaseSeconds, "retryBaseSeconds"),
    WEBHOOK_RETRY_MAX_SECONDS: seconds(webhooks.retryMaxSeconds, "retryMaxSeconds"),
    WEBHOOK_RETRY_FOR_SECONDS: seconds(webhooks.retryForSeconds, "retryForSeconds"),
    WEBHOOK_POLL_INTERVAL_SECONDS: seconds(webhooks.pollIntervalSeconds, "pollIntervalSeconds"),
  };
  // Unset ones keep the defaults.
  return Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined));
}

function checkedUrl(value: string, name: string, problems: string[]): string {
  try {
    const url = new URL(value);
    if (url.protocol === "http:" || url.protocol === "https:") return url.href.replace(/\/+$/, "");
  } catch {
    // reported below
  }
  problems.push(`${name}: must be an http(s) URL such as https://app.example.com`);
  return value;
}

function checkedSeconds(value: number, problems: string[]): number {
  if (!Number.isInteger(value) || value < 60 || value > 604_800) {
    problems.push("limits.downloadUrlExpirySeconds: must be a whole number of seconds from 60 to 604800 (7 days)");
  }
  return value;
}
