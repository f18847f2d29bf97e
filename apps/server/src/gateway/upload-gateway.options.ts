import type { Logger } from "pino";
import type { AuthResolver, ProjectDefaults } from "../auth/auth-resolver";
import { parseProjectsFile, readProjectsFile, type ProjectsFile } from "../auth/projects-file";
import {
  checkTokenSigningKeys,
  ConfigError,
  loadConfig,
  type AppConfig,
  type S3Credentials,
} from "../config/app-config";
import type { UploadLifecycleHooks } from "../uploads/lifecycle/upload-lifecycle.hooks";
import { createLogger } from "../observability/logger";
import type { StorageCallObserver } from "../observability/instrumented-storage";
import { isS3Storage } from "../storage/s3-storage.brand";
import type { Storage } from "../storage/storage.port";
import type { StartBodySchema } from "../uploads/start-body";
import type { ObjectKeyNamer } from "../uploads/upload-keys";
import type { ContentScanner } from "../verification/scanner";
import type { WebhookTargetsOf } from "../webhooks/webhook-endpoints";
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
  /**
   * The canned ACL single-PUT URLs sign (`S3_SINGLE_PUT_ACL`): `bucket-owner-full-control` (default; AWS, Ceph RGW),
   * `private` (Cloudflare R2), or `none` for a store that refuses every ACL header.
   */
  singlePutAcl?: "bucket-owner-full-control" | "private" | "none";
}

/** Who holds the API keys: projects and key digests (inline or in a projects file), or a resolver of the app's own. */
export type ApiKeyAuth = { projects: ProjectsFile } | { projectsFile: string } | { resolve: AuthResolver };

/** The gateway's own upload tokens (`UPLOAD_TOKEN_KEYS`), minted through `POST .../upload-tokens`. */
export interface UploadTokenSettings {
  /**
   * HS256 keys: the first signs new tokens, every one verifies (by the token's `kid`), each secret at least 32 bytes.
   * Rotate by putting a new key first and dropping the old one once its tokens have expired (a day at most).
   */
  keys: { kid: string; secret: string | Uint8Array }[];
}

/** An identity provider whose JWTs are accepted like upload tokens (`AUTH_JWKS_URL`, `AUTH_JWT_*`). */
export interface IdentityProviderSettings {
  /** Its JWKS: https, or http on a loopback address. */
  jwksUrl: string;
  /** The `iss` its tokens must have. */
  issuer: string;
  /** The `aud` its tokens must have. */
  audience: string;
  /** The claim naming the projects a token may use (a project id or a list); `upload_gateway_projects` by default. */
  projectsClaim?: string;
}

/**
 * Who may use which project: the API keys (`projects`, `projectsFile` or `resolve`), and the tokens the gateway
 * verifies itself next to them: its upload tokens and an identity provider's JWTs. Without `uploadTokens`, the
 * embedded store generates one key and keeps it in its `dir`; any other storage mints no tokens (501).
 */
export type UploadGatewayAuth = ApiKeyAuth & {
  uploadTokens?: UploadTokenSettings;
  identityProvider?: IdentityProviderSettings;
};

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
    /**
     * A project's webhook targets (`{ url, secret, events? }`, as in a projects file's entries), in place of the
     * projects' `webhooks`: for apps whose projects are not in a projects file, as with `auth.resolve`. Asked when an
     * event is recorded and at each delivery attempt (a URL no longer returned gets no more deliveries); a target that
     * is not usable is logged and left out; a throw fails the request that made the event (500, logged), and the
     * client's retry records it.
     */
    targets?: WebhookTargetsOf;
    allowPrivateNetworks?: boolean;
    timeoutSeconds?: number;
    retryBaseSeconds?: number;
    retryMaxSeconds?: number;
    retryForSeconds?: number;
    pollIntervalSeconds?: number;
  };
  /**
   * The expiry sweep, as the standalone server's `UPLOAD_EXPIRY_*` variables: an upload still in progress
   * `graceSeconds` after its URLs expired (default 3600) is aborted and emits `upload.expired`; each replica sweeps
   * every `sweepIntervalSeconds` (default 300; 0: never).
   */
  expiry?: {
    graceSeconds?: number;
    sweepIntervalSeconds?: number;
  };
  /**
   * The embedded store's part and single-PUT bodies: one that sends no byte for `bodyIdleSeconds` (default 30, the
   * standalone server's `BODY_IDLE_TIMEOUT_SECONDS`) is cut with 408 `REQUEST_TIMEOUT` and nothing of it is kept.
   */
  timeouts?: {
    bodyIdleSeconds?: number;
  };
  /**
   * Content scanners asked about every stored upload (`{ name, scan({ size, read(offset, length) }) }` answering
   * `{ verdict: "clean" | "infected" | "rejected" | "error", signature?, message? }`): `infected` rejects it with
   * MALWARE_FOUND, `rejected` with SCANNER_REJECTED, `error` (or a throw) retries the check later; never a pass.
   */
  scanners?: ContentScanner[];
  /**
   * The content check, as the standalone server's `VERIFY_*` variables: complete and `success` wait `waitSeconds`
   * (default 10) for the verdict; each replica polls for checks left by others every `pollSeconds` (default 10: a
   * dead replica's, and retries due later than that); a check whose process died is taken over `leaseSeconds`
   * (default 120) after it was claimed.
   */
  verification?: { waitSeconds?: number; pollSeconds?: number; leaseSeconds?: number };
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
    ...settingsConfig(settingsOf(options), problems),
    ...tokenConfig(options.auth?.uploadTokens, problems),
    // The options decide who gets in: never the dev project and its generated key.
    PROJECTS_FILE: undefined,
    DEV_API_KEY: undefined,
  };
  const auth = (options.auth ?? {}) as Partial<{ projects: ProjectsFile; projectsFile: string; resolve: AuthResolver }>;
  // One source of API keys: with two, which one decides would be a guess.
  const sources = (["projects", "projectsFile", "resolve"] as const).filter((name) => auth[name] !== undefined);
  let projects: ProjectsFile | null = null;
  if (sources.length !== 1) problems.push("auth: must hold one of { projects }, { projectsFile } or { resolve }");
  else if (auth.projects) projects = parseProjectsFile(auth.projects, "(auth.projects)");
  else if (auth.projectsFile !== undefined) {
    if (typeof auth.projectsFile === "string") projects = readProjectsFile(auth.projectsFile);
    else problems.push("auth.projectsFile: must be the path of a projects file");
  } else if (typeof auth.resolve !== "function") problems.push("auth.resolve: must be a function");
  const targets: unknown = options.webhooks?.targets;
  if (targets !== undefined && typeof targets !== "function") problems.push("webhooks.targets: must be a function");
  const scanners: unknown = options.scanners;
  if (
    scanners !== undefined &&
    !(Array.isArray(scanners) && scanners.every((s: Partial<ContentScanner>) => typeof s?.scan === "function"))
  ) {
    problems.push("scanners: must be a list of { name, scan(target) }");
  }
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
    ...(options.webhooks?.targets ? { webhookTargets: options.webhooks.targets } : {}),
    ...(options.scanners ? { scanners: options.scanners } : {}),
  };
}

function storageConfig(
  storage: UploadGatewayOptions["storage"],
  publicUrl: string | undefined,
  problems: string[],
): Partial<AppConfig> {
  // The health check names the kind of store; the store's own settings are the adapter's business.
  if (isAdapter(storage)) return { STORAGE: isS3Storage(storage) ? "s3" : "local" };
  if (storage?.type === "local") {
    if (!publicUrl)
      problems.push('publicUrl: is required with { type: "local" } storage: its part and download URLs point there');
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
    if (typeof storage.bucket !== "string" || storage.bucket.length < 3)
      problems.push("storage.bucket: must be a bucket name");
    return {
      STORAGE: "s3",
      S3_BUCKET: storage.bucket,
      S3_REGION: storage.region ?? "us-east-1",
      S3_ENDPOINT:
        storage.endpoint === undefined ? undefined : checkedUrl(storage.endpoint, "storage.endpoint", problems),
      S3_PUBLIC_ENDPOINT:
        storage.publicEndpoint === undefined
          ? undefined
          : checkedUrl(storage.publicEndpoint, "storage.publicEndpoint", problems),
      S3_FORCE_PATH_STYLE: storage.forcePathStyle ?? false,
      S3_ETAGS_ARE_MD5: storage.eTagsAreMd5 ?? true,
      S3_SINGLE_PUT_ACL: storage.singlePutAcl ?? "bucket-owner-full-control",
      AWS_ACCESS_KEY_ID: storage.credentials?.accessKeyId,
      AWS_SECRET_ACCESS_KEY: storage.credentials?.secretAccessKey,
      AWS_SESSION_TOKEN: storage.credentials?.sessionToken,
    };
  }
  problems.push('storage: must be a Storage adapter, { type: "local", ... } or { type: "s3", ... }');
  return {};
}

/** An option that stands for a variable of the environment, with the type the option takes. */
type Setting = [option: string, variable: keyof AppConfig, value: unknown, type: "string" | "number" | "boolean"];

/** The options that are the standalone server's variables under other names. */
function settingsOf(options: UploadGatewayOptions): Setting[] {
  const { webhooks = {}, expiry = {}, timeouts = {}, verification = {} } = options;
  const idp = options.auth?.identityProvider;
  return [
    ["auth.identityProvider.jwksUrl", "AUTH_JWKS_URL", idp?.jwksUrl, "string"],
    ["auth.identityProvider.issuer", "AUTH_JWT_ISSUER", idp?.issuer, "string"],
    ["auth.identityProvider.audience", "AUTH_JWT_AUDIENCE", idp?.audience, "string"],
    ["auth.identityProvider.projectsClaim", "AUTH_JWT_PROJECTS_CLAIM", idp?.projectsClaim, "string"],
    ["webhooks.allowPrivateNetworks", "WEBHOOK_ALLOW_PRIVATE_NETWORKS", webhooks.allowPrivateNetworks, "boolean"],
    ["webhooks.timeoutSeconds", "WEBHOOK_TIMEOUT_SECONDS", webhooks.timeoutSeconds, "number"],
    ["webhooks.retryBaseSeconds", "WEBHOOK_RETRY_BASE_SECONDS", webhooks.retryBaseSeconds, "number"],
    ["webhooks.retryMaxSeconds", "WEBHOOK_RETRY_MAX_SECONDS", webhooks.retryMaxSeconds, "number"],
    ["webhooks.retryForSeconds", "WEBHOOK_RETRY_FOR_SECONDS", webhooks.retryForSeconds, "number"],
    ["webhooks.pollIntervalSeconds", "WEBHOOK_POLL_INTERVAL_SECONDS", webhooks.pollIntervalSeconds, "number"],
    ["expiry.graceSeconds", "UPLOAD_EXPIRY_GRACE_SECONDS", expiry.graceSeconds, "number"],
    ["expiry.sweepIntervalSeconds", "UPLOAD_EXPIRY_SWEEP_SECONDS", expiry.sweepIntervalSeconds, "number"],
    ["timeouts.bodyIdleSeconds", "BODY_IDLE_TIMEOUT_SECONDS", timeouts.bodyIdleSeconds, "number"],
    ["verification.waitSeconds", "VERIFY_WAIT_SECONDS", verification.waitSeconds, "number"],
    ["verification.pollSeconds", "VERIFY_POLL_SECONDS", verification.pollSeconds, "number"],
    ["verification.leaseSeconds", "VERIFY_LEASE_SECONDS", verification.leaseSeconds, "number"],
  ];
}

/**
 * The settings given, validated by the environment's own rules (config/app-config.ts) so that an option and its
 * variable can never accept different values; problems name the options. Unset ones keep their defaults.
 */
function settingsConfig(settings: Setting[], problems: string[]): Partial<AppConfig> {
  const given = settings.filter(([, , value]) => value !== undefined);
  if (given.length === 0) return {};
  const env: Record<string, string> = {};
  for (const [option, variable, value, type] of given) {
    if (typeof value === type && !(type === "number" && !Number.isFinite(value))) env[variable] = String(value);
    else problems.push(`${option}: must be a ${type === "number" ? "finite number" : type}`);
  }
  try {
    const config = loadConfig(env);
    return Object.fromEntries(given.map(([, variable]) => [variable, config[variable]]));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Longest names first, so that no variable's name is replaced inside a longer one's.
    const renames = [...settings].sort((a, b) => b[1].length - a[1].length);
    problems.push(
      ...error.problems.map((line) =>
        renames.reduce((text, [option, variable]) => text.replaceAll(variable, option), line),
      ),
    );
    return {};
  }
}

function tokenConfig(uploadTokens: UploadTokenSettings | undefined, problems: string[]): Partial<AppConfig> {
  if (uploadTokens === undefined) return {};
  const keys: unknown = uploadTokens?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    problems.push("auth.uploadTokens.keys: must list at least one { kid, secret }");
    return {};
  }
  const pairs = keys.map((key: unknown) =>
    typeof key === "object" && key !== null
      ? (key as { kid: unknown; secret: unknown })
      : { kid: undefined, secret: undefined },
  );
  return {
    UPLOAD_TOKEN_KEYS: checkTokenSigningKeys(pairs, (index, message) =>
      problems.push(`auth.uploadTokens.keys[${index}]: ${message}`),
    ),
  };
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
