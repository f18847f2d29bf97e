import { build } from "esbuild";
import type { Page } from "playwright-core";

/**
 * Workspace packages bundled as one script for a page, as a web app's bundler would ship them: `entry` is the module
 * source (its imports resolve from this folder, through the packages' exports maps to their built `dist`), and its
 * exports become `window[globalName]`.
 */
export async function bundleForPage(entry: string, globalName: string): Promise<string> {
  const out = await build({
    stdin: { contents: entry, resolveDir: import.meta.dirname, loader: "js" },
    bundle: true,
    write: false,
    format: "iife",
    globalName,
    platform: "browser",
    target: "es2022",
    logLevel: "silent",
  });
  return out.outputFiles[0]!.text;
}

/** Puts a Blob of `size` random bytes in the page as `window.testBlob`; returns its SHA-256 (hex). */
export function addRandomBlob(page: Page, size: number, type = "video/mp4"): Promise<string> {
  return page.evaluate(
    async ({ size, type }) => {
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)));
      const w = window as unknown as { testBlob: Blob };
      w.testBlob = new Blob([bytes], { type });
      const digest = await crypto.subtle.digest("SHA-256", bytes);
      return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    },
    { size, type },
  );
}
