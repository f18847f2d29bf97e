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

const envSchema = z
  .object({
    PORT: z.coerce.number({ message: "must be a port number" }).int().min(0).max(65535).default(3000),
    HOST: z.string().min(1).default("127.0.0.1"),
    STORAGE: z.enum(["s3"], { message: 'must be "s3"' }).default("s3"),
    S3_ENDPOINT: optionalUrl,
    S3_PUBLIC_ENDPOINT: optionalUrl,
    S3_REGION: z.string().min(1).default("us-east-1"),
    S3_BUCKET: z.string().min(3, "must be a bucket name").optional(),
    S3_FORCE_PATH_STYLE: booleanFromString.default("false"),
    PROJECTS_FILE: z.string().min(1).optional(),
    DOWNLOAD_URL_EXPIRY_SECONDS: z.coerce.number().int().min(60).max(604_800).default(3600),
    BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(2 * 1024 * 1024),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .superRefine((env, ctx) => {
    if (env.STORAGE === "s3") {
      for (const name of ["S3_BUCKET", "PROJECTS_FILE"] as const) {
        if (!env[name]) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: "is required when STORAGE=s3" });
        }
      }
    }
  });

export type AppConfig = z.output<typeof envSchema>;
export type S3Config = AppConfig & { STORAGE: "s3"; S3_BUCKET: string; PROJECTS_FILE: string };

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
