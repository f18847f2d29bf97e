#!/usr/bin/env node
// The `upload-gateway-server` bin and `pnpm start`: the standalone server, configured by the environment.
import { createApp } from "./app.factory";
import type { DevAccess } from "./auth/dev-access";
import { DEV_ACCESS } from "./tokens";
import { ConfigError, configWarnings, loadConfig, publicUrl, type AppConfig } from "./config/app-config";
import { rateLimitScope } from "./rate-limit/rate-limit-store.factory";

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApp(config);
  await app.listen(config.PORT, config.HOST);
  // Warnings and the banner come after everything Nest logs while starting, so they are the last lines on screen.
  for (const warning of configWarnings(config)) console.warn(`Warning: ${warning}`);
  console.log(banner(config, app.get<DevAccess | null>(DEV_ACCESS, { strict: false })));
}

function banner(config: AppConfig, dev: DevAccess | null): string {
  const url = publicUrl(config);
  const limits = rateLimitScope(config);
  const listening = `${config.HOST.includes(":") && !config.HOST.startsWith("[") ? `[${config.HOST}]` : config.HOST}:${config.PORT}`;
  return [
    "",
    `  Upload Gateway is running at ${url}/`,
    ...(url === `http://${listening}` ? [] : [`  listening: ${listening}`]),
    `  storage:  ${config.STORAGE === "local" ? `local disk (${config.LOCAL_STORAGE_DIR})` : `S3 bucket ${config.S3_BUCKET}`}`,
    ...(limits ? [`  limits:   ${limits}`] : []),
    `  API docs: ${url}/docs`,
    ...(dev ? [`  project:  ${dev.projectId}`, `  API key:  ${dev.apiKey}`] : []),
    "",
  ].join("\n");
}

main().catch((error: unknown) => {
  // Configuration problems are the operator's to fix: one line each, without a stack trace. Anything else is a bug
  // or an outage (a port in use, an unwritable data dir) and keeps its stack.
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (error instanceof ConfigError) for (const problem of error.problems) console.error(`Cannot start: ${problem}`);
  else if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
    console.error(`Cannot start: cannot listen on HOST:PORT: ${(error as Error).message}`);
  } else console.error("Cannot start:", error);
  process.exit(1);
});
