import { createHash } from "node:crypto";
import { Controller, Get, Inject, NotFoundException, Req, Res } from "@nestjs/common";
import type { FastifyReply, FastifyRequest } from "fastify";
import { requestPath } from "../../http/request-path";
import { WebAppFiles, type WebFile } from "./web-app-files";

const NOT_BUILT_STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1d2330}
code{background:#eef1f6;padding:0 .3em;border-radius:4px}a{color:#2458d6}`;

/** Shown at `/` when the demo has not been built: how to build it, rather than an error. */
const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Upload Gateway</title>
<style>${NOT_BUILT_STYLE}</style></head>
<body><h1>Upload Gateway</h1>
<p>The API is running, but the demo page has not been built. Build it with
<code>pnpm --filter @upload-gateway/web build</code> (or start the server with <code>pnpm start</code> at the
repository's root, which builds it), then reload this page.</p>
<ul><li><a href="docs">API documentation</a></li><li><a href="api/openapi.json">OpenAPI document</a></li>
<li><a href="health/ready">Readiness</a></li></ul></body></html>`;

// Its one inline style, allowed by its hash: the page needs nothing else.
const NOT_BUILT_POLICY = `default-src 'none'; style-src 'sha256-${createHash("sha256").update(NOT_BUILT_STYLE).digest("base64")}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

/**
 * The demo app (`apps/web`) at `/`. Paths the app routes itself fall back to its page; the server's own paths that
 * match no route stay 404 envelopes.
 */
@Controller()
export class SiteController {
  constructor(@Inject(WebAppFiles) private readonly files: WebAppFiles) {}

  @Get()
  home(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.serve(request, reply);
  }

  @Get("*")
  other(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.serve(request, reply);
  }

  private async serve(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const path = request.url.split("?")[0] ?? "/";
    // Paths of the API, the embedded store, the docs and the probes, in any spelling (`//api`, `/API`, `/%61pi`,
    // `/x/../storage`), are never the page: their unknown routes answer the 404 envelope, with their policies.
    if (requestPath(request).area !== "other") throw new NotFoundException(`Cannot GET ${path}`);
    const file = (await this.files.file(path)) ?? (await this.fallback(path));
    if (file === "not-built") {
      await reply
        .status(503)
        .headers({
          "content-type": "text/html; charset=utf-8",
          "cache-control": "no-cache",
          "content-security-policy": NOT_BUILT_POLICY,
        })
        .send(NOT_BUILT_PAGE);
      return;
    }
    if (!file) throw new NotFoundException(`Cannot GET ${path}`);
    void reply
      .header("content-type", file.contentType)
      .header("cache-control", file.cacheControl)
      .header("etag", file.etag);
    if (request.headers["if-none-match"] === file.etag) {
      await reply.status(304).send();
      return;
    }
    await reply.status(200).send(file.body);
  }

  /** The app's page for the paths it routes itself; a missing asset stays a 404 (not HTML where a script was asked). */
  private async fallback(path: string): Promise<WebFile | "not-built" | undefined> {
    if (path.startsWith("/assets/")) return undefined;
    return (await this.files.indexAt(path)) ?? "not-built";
  }
}
