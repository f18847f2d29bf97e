import type { FastifyInstance } from "fastify";
import { requestPath } from "../http/request-path";

export interface SecurityHeadersOptions {
  /** Origins the pages may send requests to besides their own: where the store's part URLs point (S3's endpoint). */
  connectOrigins: readonly string[];
}

/**
 * The liveness probe (its normalised path ends so, under any prefix): pages on other origins ask it in `no-cors` mode
 * to tell a gateway that refuses their origin (CORS) from one they cannot reach (see the client's cors-refusal.ts).
 * It says nothing secret.
 */
const LIVENESS_PATH = /\/health\/live$/;

/**
 * The demo page and the docs are the only documents the gateway serves: scripts, styles, fonts and images from its own
 * origin only (no inline scripts or styles; workers also from Blob URLs the page's own scripts made), requests to itself and to the store, never framed. Swagger UI's icons
 * are `data:` images in its stylesheet. `base-uri` and `form-action` keep injected markup from redirecting either.
 */
function pagePolicy(connectOrigins: readonly string[]): string {
  return [
    "default-src 'self'",
    // The client hashes parts in a Web Worker made from a Blob URL of its own bundled code, with a WebAssembly MD5:
    // without these the worker is refused and hashing falls back onto the page's thread (which then stutters).
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self' blob:",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src ${["'self'", ...new Set(connectOrigins)].join(" ")}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

// Anything else (JSON, uploaded files) is data: should a browser ever render it as a document, it may run nothing,
// load nothing, and sits in a sandbox (a unique origin, so an uploaded HTML file cannot act as the gateway).
const DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox";

/**
 * Security headers on every reply: no MIME sniffing, no referrer (part URLs carry signatures), no framing, and a
 * Content-Security-Policy that fits the reply: the page policy for HTML, nothing-allowed for everything else. The
 * store's objects may be embedded by other sites (a `<video>` elsewhere), and the liveness probe read opaquely, the
 * gateway's other replies only by itself.
 * Strict-Transport-Security is left to the TLS terminator in front, which knows whether every host name has TLS.
 */
export function registerSecurityHeaders(app: FastifyInstance, options: SecurityHeadersOptions): void {
  const pages = pagePolicy(options.connectOrigins);
  app.addHook("onSend", async (request, reply, payload) => {
    // The embedded store's signed URLs (`/storage/...` in any spelling): uploaded bytes, served to anyone holding a
    // URL, never as part of our pages.
    const { path, area } = requestPath(request);
    const fromStore = area === "storage";
    const shared = fromStore || (area === "health" && LIVENESS_PATH.test(path));
    const contentType = String(reply.getHeader("content-type") ?? "");
    const isPage = !fromStore && /^text\/html\b/i.test(contentType);
    void reply.headers({
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "x-frame-options": "DENY",
      "cross-origin-resource-policy": shared ? "cross-origin" : "same-origin",
      ...(isPage ? { "cross-origin-opener-policy": "same-origin" } : {}),
    });
    // A route that knows its page better (one with a hashed inline style) sets its own policy.
    if (!reply.hasHeader("content-security-policy"))
      void reply.header("content-security-policy", isPage ? pages : DATA_POLICY);
    return payload;
  });
}
