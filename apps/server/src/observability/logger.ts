import pino, { type DestinationStream, type Logger } from "pino";
import type { AppConfig } from "../config/app-config";
import { REDACT_PATHS, REDACTED, scrubSecrets } from "./redaction";

export interface LoggerOptions {
  /** Where lines go; stdout by default. Tests pass a stream to read the lines back. */
  destination?: DestinationStream;
  /** Human-readable lines instead of JSON; by default only on a terminal outside production. */
  pretty?: boolean;
}

/**
 * The one logger of the process: JSON lines (pino) for Fastify's request logs, the access log and Nest's own logs.
 * Secrets are kept out three ways: `redact` for known fields, the error serializer and the message hook scrub
 * presigned query strings and bearer tokens from free text.
 */
export function createLogger(config: AppConfig, options: LoggerOptions = {}): Logger {
  const pretty = options.pretty ?? (process.stdout.isTTY && config.NODE_ENV !== "production");
  const settings: pino.LoggerOptions = {
    level: config.LOG_LEVEL,
    base: { service: "upload-gateway" },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    serializers: { err: serializeError, error: serializeError },
    hooks: {
      logMethod(args, method) {
        method.apply(
          this,
          args.map((arg) => (typeof arg === "string" ? scrubSecrets(arg) : arg)) as Parameters<typeof method>,
        );
      },
    },
  };
  if (options.destination) return pino(settings, options.destination);
  if (pretty) {
    // pino-pretty runs in a worker thread; it is a dev dependency, so production images need not ship it.
    return pino({
      ...settings,
      transport: { target: "pino-pretty", options: { translateTime: "HH:MM:ss.l", ignore: "pid,hostname,service" } },
    });
  }
  // Synchronous writes: lines keep their order with the start banner and warnings printed to the console, and none
  // is lost when the process exits right after logging (a failed start).
  return pino(settings, pino.destination({ dest: 1, sync: true }));
}

/** pino's error serializer (message, stack and `cause` chain), with secrets scrubbed from the free text. */
function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const serialized = pino.stdSerializers.errWithCause(error) as Record<string, unknown>;
  return scrubDeep(serialized, 0);
}

function scrubDeep(value: unknown, depth: number): unknown {
  if (typeof value === "string") return scrubSecrets(value);
  if (depth > 4 || value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    // The AWS SDK attaches the raw HTTP response to its errors: headers and bodies are noise at best.
    if (key === "$response") continue;
    out[key] = scrubDeep(inner, depth + 1);
  }
  return out;
}
