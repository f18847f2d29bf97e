// The server package's `prepack`: copies the demo page's build (apps/web/dist) into dist/web, so that a packed or
// installed server carries it and serves the demo without the repository around it
// (see src/standalone/site/web-app-files.ts).
// Build the web app first (`pnpm turbo run build`); packing without it fails rather than ship a server with no page.
import { cpSync, existsSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const server = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(server, "..", "web", "dist");
const target = join(server, "dist", "web");

if (!existsSync(join(source, "index.html"))) {
  console.error(`copy-web-app: ${source} is not built: run "pnpm turbo run build --filter=@upload-gateway/web" first`);
  process.exit(1);
}
rmSync(target, { recursive: true, force: true });
cpSync(source, target, { recursive: true });
console.error(`copy-web-app: copied the demo page into ${target}`);
