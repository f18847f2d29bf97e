import { createApp } from "./app.factory";
import { ConfigError, loadConfig } from "./config/app-config";

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApp(config);
  await app.listen(config.PORT, config.HOST);
  const url = await app.getUrl();
  console.log(`Upload Gateway listening on ${url.replace("[::1]", "localhost")} (storage: ${config.STORAGE})`);
}

main().catch((error: unknown) => {
  // Configuration problems are the operator's to fix: say what is wrong, without a stack trace.
  console.error(error instanceof ConfigError || error instanceof Error ? `Cannot start: ${error.message}` : error);
  process.exit(1);
});
