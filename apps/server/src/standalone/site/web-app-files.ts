import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { extname, join, resolve, sep } from "node:path";

/**
 * The demo page's built files. A packed server carries its own copy in `dist/web` (its `prepack` copies the web app's
 * build there), so an installed server serves the demo without the repository around it. In the repository, where
 * there is no copy, they are the web app's build itself, four folders up from `src/standalone/site` or
 * `dist/standalone/site`. (The server cannot depend on the web package: the web app's tests run this server.)
 */
export const DEFAULT_WEB_DIST_DIR = [
  resolve(__dirname, "..", "..", "web"),
  resolve(__dirname, "..", "..", "..", "..", "web", "dist"),
].find((dir, index, all) => index === all.length - 1 || existsSync(join(dir, "index.html")))!;

export interface WebFile {
  body: Buffer;
  contentType: string;
  cacheControl: string;
  etag: string;
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
  ".webmanifest": "application/manifest+json",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
  ".map": "application/json; charset=utf-8",
};

// Vite names everything under assets/ by its content hash: a changed file gets a new name, so it can be kept for good.
const HASHED = "public, max-age=31536000, immutable";
// index.html names the current assets: always ask again (the ETag makes that cheap).
const REVALIDATE = "no-cache";

/** Reads the built app's files, safely inside its folder; `undefined` for what is not there. */
export class WebAppFiles {
  readonly root: string;

  constructor(root: string = DEFAULT_WEB_DIST_DIR) {
    this.root = resolve(root);
  }

  /** The file at URL path `urlPath` (already without its query), or undefined if there is none or the path is unsafe. */
  async file(urlPath: string): Promise<WebFile | undefined> {
    const relative = safeRelativePath(urlPath);
    if (relative === undefined || relative === "") return undefined;
    return this.read(relative);
  }

  /** The app's page, served at `/` and for every path the app routes itself; undefined when the app is not built. */
  index(): Promise<WebFile | undefined> {
    return this.read("index.html");
  }

  /**
   * The app's page as served at `urlPath`. Its URLs are relative (the app may be mounted under any prefix), so below
   * the top folder a `<base>` points them back at the app's root: `/uploads/x` gets `<base href="../">`.
   */
  async indexAt(urlPath: string): Promise<WebFile | undefined> {
    const index = await this.index();
    const depth = urlPath
      .slice(0, urlPath.lastIndexOf("/") + 1)
      .split("/")
      .filter((s) => s !== "").length;
    if (!index || depth === 0) return index;
    const html = index.body.toString("utf8");
    const head = /<head[^>]*>/i.exec(html);
    if (!head) return index;
    const at = head.index + head[0].length;
    const body = Buffer.from(`${html.slice(0, at)}<base href="${"../".repeat(depth)}">${html.slice(at)}`);
    return { ...index, body, etag: etagOf(body) };
  }

  private async read(relative: string): Promise<WebFile | undefined> {
    const path = join(this.root, relative);
    if (!path.startsWith(this.root + sep)) return undefined;
    let body: Buffer;
    try {
      body = await readFile(path);
    } catch {
      return undefined; // missing, or a folder
    }
    return {
      body,
      contentType: CONTENT_TYPES[extname(path).toLowerCase()] ?? "application/octet-stream",
      cacheControl: relative.startsWith("assets/") ? HASHED : REVALIDATE,
      etag: etagOf(body),
    };
  }
}

function etagOf(body: Buffer): string {
  return `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
}

/** `"/assets/a.js"` → `"assets/a.js"`; undefined for what could leave the folder or is not a plain path. */
export function safeRelativePath(urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return undefined;
  const segments = decoded.split("/").filter((s) => s !== "");
  if (segments.some((s) => s === "." || s === ".." || s.startsWith("."))) return undefined;
  return segments.join("/");
}
