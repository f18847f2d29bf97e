import { readFileSync } from "node:fs";
import { defineConfig } from "tsup";
import { esbuildInlineWorker } from "./build/inline-worker";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as { version: string };

export default defineConfig([
  {
    // The library: a browser-safe main entry and a Node entry (file paths, node:http transport).
    entry: { index: "src/index.ts", node: "src/node.ts" },
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "es2022",
    // The MD5 worker's code is bundled into the entries as a string (see src/md5-worker-hasher.ts).
    esbuildPlugins: [esbuildInlineWorker()],
  },
  {
    entry: { cli: "src/cli.ts" },
    format: ["esm"],
    platform: "node",
    target: "node20",
    sourcemap: true,
    define: { __VERSION__: JSON.stringify(version) },
    esbuildPlugins: [esbuildInlineWorker()],
  },
]);
