#!/usr/bin/env node
// The `upload-gateway-server` bin and `pnpm start`: the standalone server, configured by the environment.
import type { Logger } from "pino";
import { createApp } from "./app.factory";
import type { DevAccess } from "../auth/dev-access";
import { ConfigError, configWarnings, loadConfig, type TokenSigningKey } from "../config/app-config";
import { DEV_ACCESS, LOGGER, TOKEN_SIGNING_KEYS } from "../tokens";
import { startBanner } from "./start-banner";
import { signalListeners, stopOnSignals } from "./stop-signals";

async function main(): Promise<void> {
  const config = loadConfig();
  const nestFree = signalListeners();
  const app = await createApp(config);
  const log = app.get<Logger>(LOGGER, { strict: false });
  stopOnSignals(app, log, nestFree);
  await app.listen(config.PORT, config.HOST);
  const tokens = app.get<TokenSigningKey[]>(TOKEN_SIGNING_KEYS, { strict: false }).length > 0;
  const banner = startBanner(config, app.get<DevAccess | null>(DEV_ACCESS, { strict: false }), tokens);
  const warnings = configWarnings(config);
  if (config.NODE_ENV === "production") {
    // A log shipper reads stdout as JSON lines: the banner and the warnings are log lines there too.
    for (const warning of warnings) log.warn(warning);
    log.info(banner.fields, banner.message);
    return;
  }
  // Warnings and the banner come after everything Nest logs while starting, so they are the last lines on screen.
  for (const warning of warnings) console.warn(`Warning: ${warning}`);
  console.log(banner.text);
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
