import "reflect-metadata";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Controller, Get, Module, type DynamicModule } from "@nestjs/common";
import { APP_FILTER, NestFactory } from "@nestjs/core";
import { FastifyAdapter, type NestFastifyApplication } from "@nestjs/platform-fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvelopeExceptionFilter } from "../../http/envelope-exception.filter";
import { SiteController } from "./site.controller";
import { WebAppFiles } from "./web-app-files";

/** Stands for the API's routes: they must win over the page's catch-all. */
@Controller()
class FakeApiController {
  @Get("api/projects/p/uploads")
  list() {
    return { success: true };
  }
}

@Module({})
class SiteTestModule {
  static with(files: WebAppFiles): DynamicModule {
    return {
      module: SiteTestModule,
      controllers: [FakeApiController, SiteController],
      providers: [
        { provide: WebAppFiles, useValue: files },
        { provide: APP_FILTER, useClass: EnvelopeExceptionFilter },
      ],
    };
  }
}

async function appWith(root: string): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    SiteTestModule.with(new WebAppFiles(root)),
    new FastifyAdapter(),
    {
      logger: false,
    },
  );
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

let dir: string;
let app: NestFastifyApplication;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "site-"));
  mkdirSync(join(dir, "assets"));
  writeFileSync(
    join(dir, "index.html"),
    '<!doctype html><html><head><script src="./assets/index-abc123.js"></script><title>Upload Gateway app</title></head></html>',
  );
  writeFileSync(join(dir, "assets", "index-abc123.js"), "console.log(1)");
  app = await appWith(dir);
});
afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the demo app at /", () => {
  it("serves index.html at / without caching, and answers 304 to a matching If-None-Match", async () => {
    const page = await app.inject({ method: "GET", url: "/" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.headers["cache-control"]).toBe("no-cache");
    expect(page.body).toContain("Upload Gateway app");
    const again = await app.inject({
      method: "GET",
      url: "/",
      headers: { "if-none-match": String(page.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
  });

  it("serves hashed assets with a long cache", async () => {
    const script = await app.inject({ method: "GET", url: "/assets/index-abc123.js?v=1" });
    expect(script.statusCode).toBe(200);
    expect(script.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(script.body).toBe("console.log(1)");
  });

  it("falls back to the page for the app's own paths, but not for a missing asset", async () => {
    const deep = await app.inject({ method: "GET", url: "/uploads/some-key?tab=parts" });
    expect(deep.statusCode).toBe(200);
    expect(deep.body).toContain("Upload Gateway app");
    // Its relative URLs still name the app's files, wherever the app is mounted.
    expect(deep.body).toContain('<head><base href="../"><script src="./assets/index-abc123.js">');
    expect((await app.inject({ method: "GET", url: "/a/b/" })).body).toContain('<base href="../../">');
    expect((await app.inject({ method: "GET", url: "/top-level" })).body).not.toContain("<base");
    expect(deep.headers.etag).not.toBe((await app.inject({ method: "GET", url: "/" })).headers.etag);
    const asset = await app.inject({ method: "GET", url: "/assets/gone-000.js" });
    expect(asset.statusCode).toBe(404);
  });

  it("leaves the server's paths to the server: routes answer, unknown ones are 404 envelopes", async () => {
    expect((await app.inject({ method: "GET", url: "/api/projects/p/uploads" })).json()).toEqual({ success: true });
    for (const url of ["/api/nothing-here", "/storage/x", "/docs/nope", "/health/nope", "/api"]) {
      const reply = await app.inject({ method: "GET", url });
      expect(reply.statusCode, url).toBe(404);
      expect(reply.json(), url).toMatchObject({ success: false, errorDetails: [{ code: "ROUTE_NOT_FOUND" }] });
    }
  });

  it("refuses paths that leave the app's folder", async () => {
    const reply = await app.inject({ method: "GET", url: "/assets/..%2F..%2Fpackage.json" });
    expect(reply.statusCode).toBe(404);
  });

  it("says how to build the app when it is not built, instead of failing", async () => {
    const bare = await appWith(join(dir, "not-built"));
    try {
      const page = await bare.inject({ method: "GET", url: "/" });
      expect(page.statusCode).toBe(503);
      expect(page.headers["content-type"]).toContain("text/html");
      expect(page.body).toContain("pnpm --filter @upload-gateway/web build");
    } finally {
      await bare.close();
    }
  });
});
