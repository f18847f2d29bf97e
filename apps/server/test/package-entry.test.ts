import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const DIST = join(__dirname, "..", "dist");
/** The package's entries: `main`/`exports["."]` (and a `.cjs` twin should the build ever emit one). */
const ENTRIES = ["index.js", "index.cjs"].map((file) => join(DIST, file)).filter((file) => existsSync(file));
/** Fastify and its parts: an app that embeds the module on Express must not load them (nor need them installed). */
const FASTIFY = /[\\/](fastify|@fastify[\\/][^\\/]+|find-my-way|avvio|@nestjs[\\/]platform-fastify)[\\/]/;

/** The files Node loaded in a fresh process after `load` (a script run by `node -e` or as an ES module). */
function loadedFiles(script: string, module = false): string[] {
  const args = [...(module ? ["--input-type=module"] : []), "-e", script];
  const out = execFileSync(process.execPath, args, { cwd: DIST, encoding: "utf8", env: { PATH: process.env.PATH } });
  return JSON.parse(out.trim().split("\n").at(-1) ?? "[]") as string[];
}

const printCache = "console.log(JSON.stringify(Object.keys(require.cache)))";

describe("the package's entry", () => {
  it("is built (run `pnpm build` first)", () => {
    expect(ENTRIES).not.toEqual([]);
  });

  it.each(ENTRIES)("required (%s), loads no Fastify module", (entry) => {
    const loaded = loadedFiles(`require(${JSON.stringify(entry)}); ${printCache}`);
    expect(loaded).toContain(entry); // the check saw the entry's own graph
    expect(loaded.filter((file) => FASTIFY.test(file))).toEqual([]);
  });

  it.each(ENTRIES)("imported as an ES module (%s), loads no Fastify module", (entry) => {
    const script =
      `import { createRequire } from "node:module"; import { pathToFileURL } from "node:url";` +
      `await import(pathToFileURL(${JSON.stringify(entry)}).href);` +
      `console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
    const loaded = loadedFiles(script, true);
    expect(loaded).toContain(entry);
    expect(loaded.filter((file) => FASTIFY.test(file))).toEqual([]);
  });

  it("and the standalone server's factory does load Fastify (so the check above can see it)", () => {
    const factory = [join(DIST, "standalone", "app.factory.js"), join(DIST, "app.factory.js")].find(existsSync);
    const loaded = loadedFiles(`require(${JSON.stringify(factory)}); ${printCache}`);
    expect(loaded.filter((file) => FASTIFY.test(file))).not.toEqual([]);
  });
});
