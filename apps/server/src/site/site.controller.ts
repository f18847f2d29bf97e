import { Controller, Get, Header, Inject, Optional } from "@nestjs/common";
import { DEV_ACCESS, type DevAccess } from "../auth/dev-access";

/** The page at `/`: what this server is and where its docs are. */
@Controller()
export class SiteController {
  constructor(@Optional() @Inject(DEV_ACCESS) private readonly dev: DevAccess | null) {}

  @Get()
  @Header("content-type", "text/html; charset=utf-8")
  home(): string {
    const dev = this.dev
      ? `<p>Dev mode: project <code>${this.dev.projectId}</code>, API key printed in the server's log.</p>`
      : "";
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Upload Gateway</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1d2330}
code{background:#eef1f6;padding:0 .3em;border-radius:4px}a{color:#2458d6}</style></head>
<body><h1>Upload Gateway</h1>
<p>Very large files straight to object storage, in parallel parts.</p>${dev}
<ul><li><a href="/docs">API documentation</a></li><li><a href="/api/openapi.json">OpenAPI document</a></li>
<li><a href="/health/ready">Readiness</a></li></ul></body></html>`;
  }
}
