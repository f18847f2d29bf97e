import { isIP } from "node:net";
import { z } from "zod";

/**
 * The server's whole configuration, read from the environment once at start. This is the only file that reads
 * `process.env`; everything else receives an `AppConfig`.
 */
const booleanFromString = z
  .enum(["true", "false", "1", "0", "yes", "no"], { message: "must be true or false" })
  .transform((v) => v === "true" || v === "1" || v === "yes");

const optionalUrl = z
  .string()
  .url("must be a URL such as http://127.0.0.1:7480")
  .optional()
  .transform((v) => (v === "" ? undefined : v));

/** Fastify's `trustProxy` forms: off, every hop, the last N hops, or the proxies at these addresses. */
export type TrustProxy = boolean | number | string[];

// proxy-addr's names for the private ranges, accepted as Fastify accepts them.
const NAMED_RANGES = new Set(["loopback", "linklocal", "uniquelocal"]);

/** `true`/`false`, a hop count, or a comma-separated list of addresses, CIDRs and proxy-addr's named ranges. */
const trustProxy = z
  .string()
  .default("false")
  .transform((raw, ctx): TrustProxy => {
    const value = raw.trim().toLowerCase();
    if (["false", "0", "no"].includes(value)) return false;
    if (["true", "yes"].includes(value)) return true;
    if (/^\d+$/.test(value)) return Number(value);
    const entries = value.split(",").map((e) => e.trim()).filter((e) => e !== "");
    const bad = entries.filter((entry) => !isTrustedAddress(entry));
    if (entries.length === 0 || bad.length > 0) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message:
          `must be true, false, a hop count, or a comma-separated list of proxy addresses or CIDRs ` +
          `(e.g. 10.0.0.0/8,::1 or loopback)${bad.length > 0 ? `; not understood: ${bad.map((b) => JSON.stringify(b)).join(", ")}` : ""}`,
      });
      return z.NEVER;
    }
    return entries;
  });

function isTrustedAddress(entry: string): boolean {
  if (NAMED_RANGES.has(entry)) return true;
  const [address = "", prefix, ...rest] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  if (/^\d{1,3}$/.test(prefix)) return Number(prefix) <= (family === 4 ? 32 : 128);
  return family === 4 && isIP(prefix) === 4; // a netmask such as 255.255.0.0, as proxy-addr accepts
}

const envSchema = z
  .object({
    PORT: z.coerce.number({ message: "must be a port number" }).int().min(0).max(65535).default(3000),
    HOST: z.string().min(1).default("127.0.0.1"),
    STORAGE: z.enum(["local", "s3"], { message: 'must be "local" or "s3"' }).default("local"),
    LOCAL_STORAGE_DIR: z.string().min(1).default("./.data"),
    LOCAL_SIGNING_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
    PUBLIC_URL: optionalUrl.describe("Base URL clients reach the gateway at (local storage's part and download URLs)."),
    DEV_API_KEY: z.string().min(16, "must be at least 16 characters").optional(),
    S3_ENDPOINT: optionalUrl,
    S3_PUBLIC_ENDPOINT: optionalUrl,
    S3_REGION: z.string().min(1).default("us-east-1"),
    S3_BUCKET: z.string().min(3, "must be a bucket name").optional(),
    S3_FORCE_PATH_STYLE: booleanFromString.default("false"),
    PROJECTS_FILE: z.string().min(1).optional(),
    DOWNLOAD_URL_EXPIRY_SECONDS: z.coerce.number().int().min(60).max(604_800).default(3600),
    BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(2 * 1024 * 1024),
    TRUST_PROXY: trustProxy.describe("Which peers may set X-Forwarded-For/-Host/-Proto (off by default)."),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .superRefine((env, ctx) => {
    const problem = (path: string, message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path: [path], message });
    if (env.STORAGE === "s3") {
      if (!env.S3_BUCKET) problem("S3_BUCKET", "is required when STORAGE=s3");
      if (!env.PROJECTS_FILE) problem("PROJECTS_FILE", "is required when STORAGE=s3 (the dev project exists only with local storage)");
      if (env.DEV_API_KEY) problem("DEV_API_KEY", "works only with STORAGE=local on a loopback HOST; use PROJECTS_FILE");
    } else if (!env.PROJECTS_FILE && !isLoopback(env.HOST)) {
      problem("PROJECTS_FILE", `is required when HOST (${env.HOST}) is not a loopback address: the dev key works only on loopback`);
    }
    if (env.PROJECTS_FILE && env.DEV_API_KEY) problem("DEV_API_KEY", "is not used when PROJECTS_FILE is set; remove one");
  });

/** Whether `host` is reachable only from this machine. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The dev project is served when nothing else is configured: local storage, loopback, no projects file. */
export function isDevMode(config: AppConfig): boolean {
  return config.STORAGE === "local" && !config.PROJECTS_FILE && isLoopback(config.HOST);
}

/** Where clients reach this server: `PUBLIC_URL`, or the listening address. */
export function publicUrl(config: AppConfig): string {
  if (config.PUBLIC_URL) return config.PUBLIC_URL.replace(/\/+$/, "");
  const host = config.HOST === "0.0.0.0" || config.HOST === "::" ? "127.0.0.1" : config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST;
  return `http://${host}:${config.PORT}`;
}

export type AppConfig = z.output<typeof envSchema>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Validates `env` (the process environment by default); throws a `ConfigError` naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  // Treat empty variables as unset, as shells and compose files often export them empty.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  return parsed.data;
}
