// The server package's `prepack`: copies the demo page's build (apps/web/dist) into dist/web, so that a packed or
// installed server carries it and serves the demo without the repository around it
// (see src/standalone/site/web-app-files.ts).
// Build the web app first (`pnpm turbo run build`); packing without it fails rather than ship a server with no page.
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const server = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(server, "..", "web", "dist");
const target = join(server, "dist", "web");

if (!existsSync(join(source, "index.html"))) {
  console.error(`copy-web-app: ${source} is not built: run "pnpm turbo run build --filter=@upload-gateway/web" first`);
  process.exit(1);
}

/** Whether two folders hold the same files with the same bytes. */
function sameTree(a, b) {
  if (!existsSync(b)) return false;
  const list = (dir) => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  const files = (dir) =>
    list(dir)
      .map((e) => join(e.parentPath ?? e.path, e.name).slice(dir.length))
      .sort();
  const left = files(a);
  const right = files(b);
  return (
    left.length === right.length &&
    left.every((f, i) => f === right[i] && readFileSync(a + f).equals(readFileSync(b + f)))
  );
}

// Packs run at once (the packaging and publish checks pack the server side by side): a copy that is already there is
// left alone, and a new one is written beside the target and renamed into place, so no pack sees a half-copied or
// removed folder, and of two copies at once the second yields to the first.
if (sameTree(source, target)) {
  console.error(`copy-web-app: ${target} is up to date`);
} else {
  const staging = `${target}.${process.pid}`;
  cpSync(source, staging, { recursive: true });
  // A stale copy (the page was rebuilt) goes; one another pack has just put in place stays.
  if (!sameTree(source, target)) rmSync(target, { recursive: true, force: true });
  try {
    renameSync(staging, target);
    console.error(`copy-web-app: copied the demo page into ${target}`);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    if (!sameTree(source, target)) throw error;
    console.error(`copy-web-app: ${target} was copied by another pack meanwhile`);
  }
}
