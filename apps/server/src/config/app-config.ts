import { z } from "zod";
import {
  booleanFromString,
  clamdUrl,
  corsOrigins,
  isLoopback,
  isWildcard,
  jwksUrl,
  optionalUrl,
  redisUrl,
  seconds,
  tokenSigningKeys,
  trustProxy,
} from "./env-parsers";

export {
  checkTokenSigningKeys,
  isLoopback,
  isWildcard,
  MIN_TOKEN_SECRET_BYTES,
  webOrigin,
  type TokenSigningKey,
  type TrustProxy,
} from "./env-parsers";

/**
 * The server's whole configuration, read from the environment once at start. This is the only file that reads
 * `process.env`; everything else receives an `AppConfig`. How each variable's text is parsed and checked is
 * env-parsers.ts.
 */
const envSchema = z
  .object({
    PORT: z.coerce.number({ message: "must be a port number" }).int().min(0).max(65535).default(3000),
    HOST: z.string().min(1).default("127.0.0.1"),
    STORAGE: z.enum(["local", "s3"], { message: 'must be "local" or "s3"' }).default("local"),
    LOCAL_STORAGE_DIR: z.string().min(1).default("./.data"),
    LOCAL_STORAGE_FSYNC: booleanFromString.default("true"),
    // For testing clients against a store whose ETags are not MD5 (S3 with SSE-KMS); not for production.
    LOCAL_STORAGE_ETAGS: z.enum(["md5", "opaque"], { message: 'must be "md5" or "opaque"' }).default("md5"),
    LOCAL_SIGNING_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
    PUBLIC_URL: optionalUrl.describe("Base URL clients reach the gateway at (local storage's part and download URLs)."),
    DEV_API_KEY: z.string().min(16, "must be at least 16 characters").optional(),
    S3_ENDPOINT: optionalUrl,
    S3_PUBLIC_ENDPOINT: optionalUrl,
    S3_REGION: z.string().min(1).default("us-east-1"),
    S3_BUCKET: z.string().min(3, "must be a bucket name").optional(),
    S3_FORCE_PATH_STYLE: booleanFromString.default("false"),
    // Read here, like every other variable, and handed to the S3 client; when unset the AWS SDK's default chain
    // (profiles, web identity, container and instance roles) finds credentials instead.
    AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
    AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
    AWS_SESSION_TOKEN: z.string().min(1).optional(),
    // False for buckets whose part ETags are not MD5s (SSE-KMS, SSE-C, some S3-compatible stores): clients then rely
    // on the Content-MD5 check alone instead of comparing ETags.
    S3_ETAGS_ARE_MD5: booleanFromString.default("true"),
    // The canned ACL single-PUT URLs sign, so that no header a client adds can make an object public:
    // bucket-owner-full-control (AWS, also with ACLs disabled; Ceph RGW), private (Cloudflare R2), none.
    S3_SINGLE_PUT_ACL: z.enum(["bucket-owner-full-control", "private", "none"]).default("bucket-owner-full-control"),
    PROJECTS_FILE: z.string().min(1).optional(),
    DOWNLOAD_URL_EXPIRY_SECONDS: z.coerce.number().int().min(60).max(604_800).default(3600),
    BODY_LIMIT_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(2 * 1024 * 1024),
    UPLOAD_TOKEN_KEYS: tokenSigningKeys.describe("Keys that sign upload tokens: kid:secret pairs, the first signs."),
    // An identity provider's JWTs, accepted like upload tokens on the projects their AUTH_JWT_PROJECTS_CLAIM names.
    AUTH_JWKS_URL: jwksUrl,
    AUTH_JWT_ISSUER: z.string().min(1).optional(),
    AUTH_JWT_AUDIENCE: z.string().min(1).optional(),
    AUTH_JWT_PROJECTS_CLAIM: z.string().min(1).default("upload_gateway_projects"),
    CORS_ORIGINS: corsOrigins.describe("Web origins whose pages may call the API (comma-separated, or *)."),
    TRUST_PROXY: trustProxy.describe("Which peers may set X-Forwarded-For/-Host/-Proto (off by default)."),
    // Slow clients (see the README's "Security model"): each one holds a socket and memory while it dawdles.
    HEADERS_TIMEOUT_SECONDS: seconds(20),
    REQUEST_BODY_TIMEOUT_SECONDS: seconds(30),
    BODY_IDLE_TIMEOUT_SECONDS: seconds(30),
    KEEP_ALIVE_TIMEOUT_SECONDS: seconds(72),
    // When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; open otherwise.
    METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
    RATE_LIMIT_PER_MINUTE: z.coerce.number({ message: "must be a number" }).int().min(0).default(600),
    RATE_LIMIT_PER_IP_PER_MINUTE: z.coerce.number({ message: "must be a number" }).int().min(0).default(120),
    // Rate limits counted once for all replicas in this Redis (or Valkey); in each process's memory when unset.
    REDIS_URL: redisUrl,
    // How long a rate-limit check waits for Redis before letting the request through uncounted.
    REDIS_COMMAND_TIMEOUT_MS: z.coerce
      .number({ message: "must be a number of milliseconds" })
      .int()
      .min(10)
      .max(60_000)
      .default(200),
    // Webhooks (projects' `webhooks` in PROJECTS_FILE): delivered at least once, retried with exponential backoff.
    // Uploads not completed this long after their URLs expired are aborted by a sweep every UPLOAD_EXPIRY_SWEEP_SECONDS (0: off).
    UPLOAD_EXPIRY_GRACE_SECONDS: z.coerce
      .number({ message: "must be a number of seconds" })
      .min(0, "must be 0 or more")
      .default(3600),
    UPLOAD_EXPIRY_SWEEP_SECONDS: z.coerce
      .number({ message: "must be a number of seconds" })
      .min(0, "must be 0 or more")
      .default(300),
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: booleanFromString.default("false"),
    WEBHOOK_TIMEOUT_SECONDS: seconds(10),
    WEBHOOK_RETRY_BASE_SECONDS: seconds(30),
    WEBHOOK_RETRY_MAX_SECONDS: seconds(3600),
    WEBHOOK_RETRY_FOR_SECONDS: seconds(86_400),
    WEBHOOK_POLL_INTERVAL_SECONDS: seconds(5),
    // The content check of every stored upload: complete and success wait this long for its verdict (then success
    // answers 409 VERIFICATION_PENDING); every replica polls the due index for checks left by others every
    // VERIFY_POLL_SECONDS (one LIST: a dead replica's checks and retries due later than that; sooner retries are run
    // by their own process); a check claimed by a process that died is taken over VERIFY_LEASE_SECONDS after its claim.
    VERIFY_WAIT_SECONDS: z.coerce
      .number({ message: "must be a number of seconds" })
      .min(0, "must be 0 or more")
      .max(60, "must be at most 60 (a request waits this long)")
      .default(10),
    VERIFY_POLL_SECONDS: seconds(10),
    VERIFY_LEASE_SECONDS: seconds(120),
    // ClamAV's clamd, which scans each upload's bytes by INSTREAM when set (tcp://host:port); off when unset.
    CLAMD_URL: clamdUrl.optional(),
    CLAMD_TIMEOUT_SECONDS: seconds(60),
    // clamd's StreamMaxLength (its clamd.conf; 25 MiB by default): larger objects cannot be scanned by INSTREAM.
    CLAMD_STREAM_MAX_BYTES: z.coerce
      .number({ message: "must be a number of bytes" })
      .int()
      .min(1)
      .default(25 * 1024 * 1024),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    // `production` keeps log lines JSON even on a terminal; elsewhere a terminal gets pino-pretty's lines.
    NODE_ENV: z.string().optional(),
  })
  .superRefine((env, ctx) => {
    const problem = (path: string, message: string) =>
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [path], message });
    if (env.STORAGE === "s3") {
      if (!env.S3_BUCKET) problem("S3_BUCKET", "is required when STORAGE=s3");
      if (!env.PROJECTS_FILE)
        problem("PROJECTS_FILE", "is required when STORAGE=s3 (the dev project exists only with local storage)");
      if (env.DEV_API_KEY)
        problem("DEV_API_KEY", "works only with STORAGE=local on a loopback HOST; use PROJECTS_FILE");
    } else {
      if (!env.PROJECTS_FILE && !isLoopback(env.HOST)) {
        problem(
          "PROJECTS_FILE",
          `is required when HOST (${env.HOST}) is not a loopback address: the dev key works only on loopback`,
        );
      }
      // The embedded store's part and download URLs start with PUBLIC_URL. "http://0.0.0.0:3000" reaches nobody, and
      // guessing one of the machine's addresses would hand out URLs that fail from the other side of a proxy or NAT.
      if (!env.PUBLIC_URL && isWildcard(env.HOST)) {
        problem(
          "PUBLIC_URL",
          `is required with STORAGE=local when HOST (${env.HOST}) listens on every interface: part and download URLs must name an address clients reach, e.g. http://uploads.example.com:${env.PORT}`,
        );
      }
    }
    if (!env.AWS_ACCESS_KEY_ID !== !env.AWS_SECRET_ACCESS_KEY) {
      problem(
        env.AWS_ACCESS_KEY_ID ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID",
        "must be set together with the other AWS key",
      );
    }
    if (env.AWS_SESSION_TOKEN && !env.AWS_ACCESS_KEY_ID)
      problem("AWS_SESSION_TOKEN", "needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    if (env.AUTH_JWKS_URL) {
      // Without both, any token the provider ever signed (for any of its apps) would be accepted.
      if (!env.AUTH_JWT_ISSUER) problem("AUTH_JWT_ISSUER", "is required with AUTH_JWKS_URL");
      if (!env.AUTH_JWT_AUDIENCE) problem("AUTH_JWT_AUDIENCE", "is required with AUTH_JWKS_URL");
    } else {
      for (const name of ["AUTH_JWT_ISSUER", "AUTH_JWT_AUDIENCE"] as const) {
        if (env[name]) problem(name, "is used only with AUTH_JWKS_URL; set AUTH_JWKS_URL too, or remove it");
      }
    }
    if (env.PROJECTS_FILE && env.DEV_API_KEY)
      problem("DEV_API_KEY", "is not used when PROJECTS_FILE is set; remove one");
  });

/** The dev project is served when nothing else is configured: local storage, loopback, no projects file. */
export function isDevMode(config: AppConfig): boolean {
  return config.STORAGE === "local" && !config.PROJECTS_FILE && isLoopback(config.HOST);
}

/**
 * Where clients reach this server: `PUBLIC_URL`, or `http://HOST:PORT`. A wildcard `HOST` needs `PUBLIC_URL` with local
 * storage (enforced above); in S3 mode the gateway hands out no URLs of its own, and this machine reaches it on loopback.
 */
export function publicUrl(config: AppConfig): string {
  if (config.PUBLIC_URL) return config.PUBLIC_URL.replace(/\/+$/, "");
  const host = isWildcard(config.HOST)
    ? "127.0.0.1"
    : config.HOST.includes(":") && !config.HOST.startsWith("[")
      ? `[${config.HOST}]`
      : config.HOST;
  return `http://${host}:${config.PORT}`;
}

/** Static S3 credentials when configured; undefined leaves the choice to the AWS SDK's default provider chain. */
export function s3Credentials(config: AppConfig): S3Credentials | undefined {
  if (!config.AWS_ACCESS_KEY_ID || !config.AWS_SECRET_ACCESS_KEY) return undefined;
  return {
    accessKeyId: config.AWS_ACCESS_KEY_ID,
    secretAccessKey: config.AWS_SECRET_ACCESS_KEY,
    ...(config.AWS_SESSION_TOKEN ? { sessionToken: config.AWS_SESSION_TOKEN } : {}),
  };
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export type AppConfig = z.output<typeof envSchema>;

/**
 * A configuration the operator must fix. `problems` holds one self-contained line each (naming the variable and
 * never its value, which may be a secret), so that the server can print them without a stack trace.
 */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
  }
}

type Env = Record<string, string | undefined>;

/** Treats empty variables as unset, as shells and compose files often export them empty. */
const presentVariables = (env: Env) =>
  Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));

/** Validates `env` (the process environment by default); throws a `ConfigError` naming every bad variable. */
export function loadConfig(env: Env = process.env): AppConfig {
  const parsed = envSchema.safeParse(presentVariables(env));
  if (!parsed.success)
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`));
  return parsed.data;
}

/**
 * Settings that are valid but probably not what the operator meant, one line each: printed at start, never fatal.
 * Reads `env` as given, since defaults hide what was set.
 */
export function configWarnings(config: AppConfig, env: Env = process.env): string[] {
  const warnings: string[] = [];
  const s3Variables = Object.keys(presentVariables(env))
    .filter((name) => name.startsWith("S3_"))
    .sort();
  if (config.STORAGE === "local" && s3Variables.length > 0) {
    warnings.push(
      `${s3Variables.join(", ")} ${s3Variables.length === 1 ? "is" : "are"} set but STORAGE is local: uploads go to ${config.LOCAL_STORAGE_DIR}, not to S3 (set STORAGE=s3 to use S3)`,
    );
  }
  return warnings;
}
