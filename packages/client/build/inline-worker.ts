// Bundles a Web Worker's entry into one self-contained script and hands it to the importing module as a string
// (`import source from "inline-worker:./x.worker"`). The package then starts the worker from a Blob URL, so apps
// that bundle it (Vite, webpack, esbuild, Rollup) need no worker plugin or extra file to serve.
import { dirname, resolve } from "node:path";
import { build, type Plugin as EsbuildPlugin } from "esbuild";

/** The part of Vite's plugin interface used here (vite itself is vitest's dependency, not ours). */
interface VitePlugin {
  name: string;
  enforce: "pre";
  resolveId(id: string, importer?: string): string | null;
  load(id: string): Promise<string> | null;
}

const PREFIX = "inline-worker:";

/** The worker at `path`, with its imports, as one minified classic script. */
export async function bundleWorker(path: string): Promise<string> {
  const out = await build({
    entryPoints: [path],
    bundle: true,
    write: false,
    format: "iife",
    platform: "browser",
    target: "es2020",
    minify: true,
    legalComments: "inline",
  });
  return out.outputFiles[0]!.text;
}

const moduleOf = async (path: string) => `export default ${JSON.stringify(await bundleWorker(path))};`;

/** For tsup (esbuild) builds. */
export function esbuildInlineWorker(): EsbuildPlugin {
  return {
    name: "inline-worker",
    setup(b) {
      b.onResolve({ filter: /^inline-worker:/ }, (args) => ({
        path: resolve(args.resolveDir, `${args.path.slice(PREFIX.length)}.ts`),
        namespace: "inline-worker",
      }));
      b.onLoad({ filter: /.*/, namespace: "inline-worker" }, async (args) => ({
        contents: await moduleOf(args.path),
        loader: "js",
        resolveDir: dirname(args.path),
      }));
    },
  };
}

/** For vitest (Vite). */
export function viteInlineWorker(): VitePlugin {
  return {
    name: "inline-worker",
    enforce: "pre",
    resolveId(id, importer) {
      if (!id.startsWith(PREFIX) || !importer) return null;
      return `\0${PREFIX}${resolve(dirname(importer), `${id.slice(PREFIX.length)}.ts`)}`;
    },
    load(id) {
      return id.startsWith(`\0${PREFIX}`) ? moduleOf(id.slice(PREFIX.length + 1)) : null;
    },
  };
}
