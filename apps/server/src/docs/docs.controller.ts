import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  Controller,
  Get,
  Header,
  Inject,
  NotFoundException,
  Param,
  Res,
  StreamableFile,
  UseFilters,
} from "@nestjs/common";
import { EnvelopeExceptionFilter } from "../http/envelope-exception.filter";
import type { AppConfig } from "../config/app-config";
import { APP_CONFIG, ROUTE_PREFIX } from "../tokens";
import { setReplyHeader, type PlatformReply } from "../http/platform-reply";
import { buildOpenApiDocument } from "./openapi";

/**
 * swagger-ui-dist's folder, found from its package.json rather than its entry: requiring the entry runs its 1.4 MB
 * browser bundle in Node, half a second of CPU at every start of the gateway and of every app embedding it.
 */
const SWAGGER_UI_DIR = dirname(require.resolve("swagger-ui-dist/package.json"));

const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
  "swagger-ui-standalone-preset.js": "application/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

// Every URL is relative to the page (`/docs`), so the docs work wherever the gateway is mounted: under a path prefix,
// or behind a proxy that routes one (`/media/docs` loads `/media/docs/assets/...` and `/media/api/openapi.json`).
const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Upload Gateway API</title>
  <link rel="icon" href="docs/assets/favicon-32x32.png">
  <link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
  <div id="docs"></div>
  <script src="docs/assets/swagger-ui-bundle.js"></script>
  <script src="docs/assets/docs-init.js"></script>
</body>
</html>`;

// A file of its own rather than an inline script, so the page works under a strict Content-Security-Policy.
// No validator badge: it would send the document to validator.swagger.io.
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: new URL("api/openapi.json", document.baseURI).href, dom_id: "#docs", deepLinking: true, persistAuthorization: true, validatorUrl: null });`;

/** The OpenAPI document generated from the contract, and a Swagger UI for it. No API key needed. */
@Controller()
// Here as well as app-wide: embedded in another app, the gateway's routes still answer in its envelope.
@UseFilters(EnvelopeExceptionFilter)
export class DocsController {
  private document: Record<string, unknown> | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(ROUTE_PREFIX) private readonly prefix: string,
  ) {}

  @Get("api/openapi.json")
  openApi(): Record<string, unknown> {
    this.document ??= buildOpenApiDocument(documentedServerUrl(this.config, this.prefix));
    return this.document;
  }

  @Get("docs")
  @Header("content-type", "text/html; charset=utf-8")
  page(): string {
    return DOCS_PAGE;
  }

  @Get("docs/assets/docs-init.js")
  @Header("content-type", "application/javascript; charset=utf-8")
  init(): string {
    return DOCS_INIT;
  }

  @Get("docs/assets/:file")
  async asset(@Param("file") file: string, @Res({ passthrough: true }) reply: PlatformReply): Promise<StreamableFile> {
    // Own keys only: `__proto__` or `constructor` must not find Object.prototype's members (then a 500 for ENOENT).
    const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    if (!type) throw new NotFoundException(`Cannot GET /docs/assets/${file}`);
    setReplyHeader(reply, "cache-control", "public, max-age=86400");
    // A StreamableFile, not a Buffer: Nest sends it as bytes on Fastify and on Express alike (Express would answer a
    // Buffer as JSON).
    return new StreamableFile(await readFile(join(SWAGGER_UI_DIR, file)), { type });
  }
}

/**
 * The document's `servers` URL, where "Try it out" sends its calls: `PUBLIC_URL` (the module's `publicUrl` plus its
 * `path`), else the mount path alone (`/media`, or `/`), relative to the docs' own host: a guessed `http://HOST:PORT`
 * names this machine's listening address (or none, embedded), not the one browsers reach.
 */
export function documentedServerUrl(config: Pick<AppConfig, "PUBLIC_URL">, prefix: string): string {
  if (config.PUBLIC_URL) return config.PUBLIC_URL.replace(/\/+$/, "");
  return prefix === "" ? "/" : prefix;
}
