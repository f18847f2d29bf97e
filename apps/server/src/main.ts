import { createApp } from "./app.factory";
import { DEV_ACCESS, type DevAccess } from "./auth/dev-access";
import { loadConfig, publicUrl } from "./config/app-config";

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApp(config);
  await app.listen(config.PORT, config.HOST);
  const url = publicUrl(config);
  const dev = app.get<DevAccess | null>(DEV_ACCESS, { strict: false });
  const lines = [
    "",
    `  Upload Gateway is running at ${url}/`,
    `  storage:  ${config.STORAGE === "local" ? `local disk (${config.LOCAL_STORAGE_DIR})` : `S3 bucket ${config.S3_BUCKET}`}`,
    `  API docs: ${url}/docs`,
    ...(dev ? [`  project:  ${dev.projectId}`, `  API key:  ${dev.apiKey}`] : []),
    "",
  ];
  console.log(lines.join("\n"));
}

main().catch((error: unknown) => {
  // Configuration problems are the operator's to fix: say what is wrong, without a stack trace.
  console.error(error instanceof Error ? `Cannot start: ${error.message}` : error);
  process.exit(1);
});
