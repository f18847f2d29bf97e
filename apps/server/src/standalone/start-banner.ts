import type { DevAccess } from "../auth/dev-access";
import { publicUrl, type AppConfig } from "../config/app-config";
import { rateLimitScope } from "./rate-limit/rate-limit-store.factory";

/** What the standalone server says once it listens: the same facts as a few lines for a terminal or one log line. */
export interface StartBanner {
  /** `Upload Gateway is running at <url>/`: the line tests and scripts wait for. */
  message: string;
  /** The facts as log fields (never the dev key: log lines are shipped and kept). */
  fields: Record<string, string | boolean>;
  /** The lines a person reads on a terminal (the dev key included: it works only on this machine). */
  text: string;
}

/** Said whenever upload tokens are off, so that an operator learns it before a page gets a 501. */
export const TOKENS_OFF_HINT =
  "off: set UPLOAD_TOKEN_KEYS=kid:secret (a random secret of 32+ bytes, the same on every replica) " +
  "so pages can upload with tokens";

export function startBanner(config: AppConfig, dev: DevAccess | null, uploadTokens: boolean): StartBanner {
  const url = publicUrl(config);
  const host = config.HOST.includes(":") && !config.HOST.startsWith("[") ? `[${config.HOST}]` : config.HOST;
  const listening = `${host}:${config.PORT}`;
  const storage =
    config.STORAGE === "local" ? `local disk (${config.LOCAL_STORAGE_DIR})` : `S3 bucket ${config.S3_BUCKET}`;
  const message = `Upload Gateway is running at ${url}/`;
  const limits = rateLimitScope(config);
  const text = [
    "",
    `  ${message}`,
    ...(url === `http://${listening}` ? [] : [`  listening: ${listening}`]),
    `  storage:  ${storage}`,
    ...(limits ? [`  limits:   ${limits}`] : []),
    `  API docs: ${url}/docs`,
    ...(uploadTokens ? [] : [`  upload tokens: ${TOKENS_OFF_HINT}`]),
    ...(dev ? [`  project:  ${dev.projectId}`, `  API key:  ${dev.apiKey}`] : []),
    "",
  ].join("\n");
  const fields = {
    url: `${url}/`,
    listening,
    storage,
    ...(limits ? { limits } : {}),
    docs: `${url}/docs`,
    uploadTokens: uploadTokens ? "on" : TOKENS_OFF_HINT,
    ...(dev ? { devProject: dev.projectId } : {}),
  };
  return { message, fields, text };
}
