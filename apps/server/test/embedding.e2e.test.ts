import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Controller, Get, Module, type DynamicModule, type INestApplication } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { ExpressAdapter } from "@nestjs/platform-express";
import { FastifyAdapter, type NestFastifyApplication } from "@nestjs/platform-fastify";
import { refineStartUpload, startUploadBodyBase } from "@upload-gateway/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  ApiError,
  createUploadGateway,
  hashApiKey,
  UploadGatewayModule,
  type UploadGatewayOptions,
} from "../src/index";
import { testS3StorageOption } from "./support/gateway";
import { expectErrorEnvelope } from "./support/http";
import { rawRequest } from "./support/raw-http";
import { freePort } from "./support/server-process";

/**
 * UploadGatewayModule inside another Nest app, as a platform team embeds it: under /media, next to the app's own
 * routes, with the embedded store (its part and download URLs under /media too), a custom resolver and key naming.
 */

@Controller("hello")
class HostController {
  @Get()
  hello() {
    return { host: true };
  }
}

async function hostApp(gateway: DynamicModule): Promise<{ app: NestFastifyApplication; base: string }> {
  @Module({ imports: [gateway], controllers: [HostController] })
  class HostModule {}
  const port = await freePort();
  const app = await NestFactory.create<NestFastifyApplication>(HostModule, new FastifyAdapter(), { logger: false });
  await app.listen(port, "127.0.0.1");
  return { app, base: `http://127.0.0.1:${port}` };
}

async function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}) {
  const response = await fetch(url, {
    method: init.method ?? "GET",
    headers: { ...init.headers, ...(init.body === undefined ? {} : { "content-type": "application/json" }) },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

const file = (size: number) => ({
  partsNumber: 1,
  fileName: "clip.mp4",
  contentLength: String(size),
  mimeType: "video/mp4",
});

/** Nest's two HTTP platforms: the module answers the same on both. */
const PLATFORMS = {
  fastify: () => new FastifyAdapter(),
  express: () => new ExpressAdapter(),
};

describe.each(["fastify", "express"] as const)(
  "UploadGatewayModule embedded under /media (API keys, embedded store) on %s",
  (platform) => {
    const key = `key-${randomBytes(16).toString("hex")}`;
    const auth = { authorization: `Bearer ${key}` };
    let dir: string;
    let host: { app: INestApplication; base: string };
    const keysNamed: string[] = [];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "gateway-embed-"));
      const port = await freePort();
      host = await (async () => {
        @Module({
          imports: [
            UploadGatewayModule.forRootAsync({
              path: "/media/",
              useFactory: (): Promise<UploadGatewayOptions> =>
                Promise.resolve({
                  storage: { type: "local", dir, fsync: false },
                  publicUrl: `http://127.0.0.1:${port}`,
                  auth: {
                    projects: {
                      projects: [{ id: "films" }, { id: "docs", allowedMimeTypes: ["application/pdf"] }],
                      apiKeys: [{ name: "test", sha256: hashApiKey(key), projects: ["films", "docs"] }],
                    },
                  },
                  objectKey: ({ projectId, requestKey, fileName }) => {
                    const named = `media/${projectId}/${requestKey}/${fileName}`;
                    keysNamed.push(named);
                    return named;
                  },
                  limits: { maxFileSize: 64 * 1024 * 1024 },
                  timeouts: { bodyIdleSeconds: 1 },
                }),
            }),
          ],
          controllers: [HostController],
        })
        class HostModule {}
        const app = await NestFactory.create(HostModule, PLATFORMS[platform](), { logger: false });
        await app.listen(port, "127.0.0.1");
        return { app, base: `http://127.0.0.1:${port}` };
      })();
    });
    afterAll(async () => {
      await host?.app.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("serves the whole round trip under /media: start, part PUT, complete, status, download", async () => {
      const bytes = randomBytes(1000);
      const api = `${host.base}/media/api/projects/films/uploads`;
      const started = await call(`${api}/multipart`, { method: "POST", headers: auth, body: file(bytes.length) });
      expect(started.status).toBe(200);
      const { requestKey, presignedUrl } = started.body.result;
      expect(presignedUrl[0].presignedUrl.startsWith(`${host.base}/media/storage/`)).toBe(true);
      const put = await fetch(presignedUrl[0].presignedUrl, { method: "PUT", body: bytes });
      expect(put.status).toBe(200);
      const completed = await call(`${api}/multipart-complete`, {
        method: "PUT",
        headers: auth,
        body: { requestKey, parts: [{ partNumber: 1, eTag: put.headers.get("etag") }] },
      });
      expect(completed).toMatchObject({ status: 200, body: { success: true, result: true } });
      const status = await call(`${api}/${requestKey}`, { headers: auth });
      expect(status).toMatchObject({ status: 200, body: { result: { state: "completed", fileName: "clip.mp4" } } });
      const download = await call(`${host.base}/media/api/projects/films/uploads/success/${requestKey}`, {
        method: "POST",
        headers: auth,
      });
      expect(
        download.body.result.downloadPath.startsWith(
          `${host.base}/media/storage/objects/media/films/${requestKey}/clip.mp4?`,
        ),
      ).toBe(true);
      const got = await fetch(download.body.result.downloadPath);
      expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
      expect(keysNamed).toContain(`media/films/${requestKey}/clip.mp4`);
    });

    it("cuts a part body that stalls (timeouts.bodyIdleSeconds) with 408 in the envelope, keeping nothing of it", async () => {
      const api = `${host.base}/media/api/projects/films/uploads`;
      const started = await call(`${api}/multipart`, { method: "POST", headers: auth, body: file(10_000) });
      const url = new URL(started.body.result.presignedUrl[0].presignedUrl);
      const head = `PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10000\r\n\r\n`;
      const stalled = await rawRequest(Number(url.port), head, { tail: "x".repeat(5000), timeoutMs: 5000 });
      expectErrorEnvelope(stalled, 408, "REQUEST_TIMEOUT");
      expect(stalled.closedByServer).toBe(true);
      const status = await call(`${api}/${started.body.result.requestKey}`, { headers: auth });
      expect(status.body.result.uploadedParts).toEqual([]);
    });

    it("keeps the app's own routes and errors: its route answers, its 404 is Nest's, not the gateway's envelope", async () => {
      expect(await call(`${host.base}/hello`)).toEqual({ status: 200, body: { host: true } });
      const missing = await call(`${host.base}/nothing-here`);
      expect(missing.status).toBe(404);
      expect(missing.body).not.toHaveProperty("success");
      // Nothing of the gateway at the root, and no dev session or demo page when embedded.
      expect((await call(`${host.base}/api/projects/films/uploads`, { headers: auth })).status).toBe(404);
      expect((await call(`${host.base}/media/api/dev-session`)).status).toBe(404);
    });

    it("answers unknown routes under /media/api (any method, wrong methods of its routes) with the envelope's 404", async () => {
      for (const [method, path] of [
        ["GET", "/media/api"],
        ["GET", "/media/api/"],
        ["GET", "/media/api/nothing?x=1"],
        ["POST", "/media/api/projects/films/uploads/nope/deeper"],
        ["DELETE", "/media/api/projects/films/uploads"],
        ["GET", "/media/api/dev-session"],
      ] as const) {
        const missing = await call(`${host.base}${path}`, { method, headers: auth });
        expect([method, path, missing.status, missing.body]).toEqual([
          method,
          path,
          404,
          expect.objectContaining({
            success: false,
            errorDetails: [expect.objectContaining({ code: "ROUTE_NOT_FOUND" })],
          }),
        ]);
        expect(missing.body.errorDetails[0].message).toBe(`Cannot ${method} ${path.split("?")[0]}`);
      }
      // Its own routes are still found, whatever order the platform tries routes in.
      expect((await call(`${host.base}/media/api/projects/films/uploads`, { headers: auth })).status).toBe(200);
      expect((await call(`${host.base}/media/api/openapi.json`)).status).toBe(200);
    });

    it("answers in the envelope on its own routes: 401, 404 project, 400 validation, 415 by project rules, 413 by limits", async () => {
      const api = `${host.base}/media/api/projects`;
      expect(await call(`${api}/films/uploads/multipart`, { method: "POST", body: file(100) })).toMatchObject({
        status: 401,
        body: { success: false, errorDetails: [{ code: "UNAUTHORIZED" }] },
      });
      expect((await call(`${api}/nope/uploads`, { headers: auth })).body.errorDetails[0].code).toBe(
        "PROJECT_NOT_FOUND",
      );
      const invalid = await call(`${api}/films/uploads/multipart`, {
        method: "POST",
        headers: auth,
        body: { ...file(100), partsNumber: 0 },
      });
      expect(invalid).toMatchObject({
        status: 400,
        body: { errorDetails: [{ code: "VALIDATION_FAILED", field: "partsNumber" }] },
      });
      const wrongType = await call(`${api}/docs/uploads/multipart`, { method: "POST", headers: auth, body: file(100) });
      expect(wrongType.body.errorDetails[0].code).toBe("MIME_TYPE_NOT_ALLOWED");
      // limits.maxFileSize applies to projects that set no maxFileSize of their own.
      const tooLarge = await call(`${api}/films/uploads/multipart`, {
        method: "POST",
        headers: auth,
        body: file(65 * 1024 * 1024),
      });
      expect(tooLarge.body.errorDetails[0].code).toBe("FILE_TOO_LARGE");
    });

    it("serves its health probes and docs under /media", async () => {
      expect(await call(`${host.base}/media/health/ready`)).toMatchObject({
        status: 200,
        body: { result: { status: "ok" } },
      });
      const openApi = await call(`${host.base}/media/api/openapi.json`);
      expect(openApi.body.servers[0].url).toBe(`${host.base}/media`);
    });
  },
);

describe.each(["fastify", "express"] as const)(
  "UploadGatewayModule under /media without publicUrl (S3) on %s",
  (platform) => {
    let app: INestApplication;
    let base: string;

    beforeAll(async () => {
      @Module({
        imports: [
          UploadGatewayModule.forRoot({
            path: "/media",
            storage: testS3StorageOption(),
            auth: { projects: { projects: [{ id: "films" }], apiKeys: [] } },
          }),
        ],
      })
      class S3HostModule {}
      const port = await freePort();
      app = await NestFactory.create(S3HostModule, PLATFORMS[platform](), { logger: false });
      await app.listen(port, "127.0.0.1");
      base = `http://127.0.0.1:${port}`;
    });
    afterAll(async () => {
      await app?.close();
    });

    it("documents its API at the mount path, relative to the docs' host, so that Try it out calls /media/api/...", async () => {
      expect((await call(`${base}/media/api/openapi.json`)).body.servers).toEqual([
        { url: "/media", description: "This gateway" },
      ]);
      expect((await call(`${base}/media/api/nothing`)).body.errorDetails[0].code).toBe("ROUTE_NOT_FOUND");
    });
  },
);

describe("UploadGatewayModule with a custom resolver and key naming", () => {
  let dir: string;
  let host: { app: NestFastifyApplication; base: string };
  let badKey = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "gateway-embed-"));
    host = await hostApp(
      UploadGatewayModule.forRoot({
        path: "uploads-api",
        storage: { type: "local", dir, fsync: false },
        publicUrl: "http://127.0.0.1:1",
        auth: {
          // The platform's own session check: a header names the team, which may use only its own project.
          resolve: ({ projectId, headers }) => {
            const team = headers["x-team"];
            if (typeof team !== "string") return null;
            if (team === "liar") return { id: "someone-else" };
            if (team !== projectId)
              throw new ApiError({ code: "FORBIDDEN", message: `team ${team} may not use ${projectId}` });
            return { id: team, maxOpenUploads: 5 };
          },
        },
        objectKey: ({ projectId, requestKey }) =>
          badKey ? `projects/${projectId}/uploads/${requestKey}.json` : `t/${projectId}/${requestKey}`,
      }),
    );
  });
  afterAll(async () => {
    await host?.app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (team: string | undefined, project = "team-a") =>
    call(`${host.base}/uploads-api/api/projects/${project}/uploads/multipart`, {
      method: "POST",
      headers: team ? { "x-team": team } : {},
      body: file(100),
    });

  it("lets the resolver decide: its project passes, null is 401, its ApiError is answered, another project's id is 403", async () => {
    expect((await start("team-a")).status).toBe(200);
    expect((await start(undefined)).body.errorDetails[0].code).toBe("UNAUTHORIZED");
    const refused = await start("team-b");
    expect(refused).toMatchObject({
      status: 403,
      body: { errorDetails: [{ code: "FORBIDDEN", message: "team team-b may not use team-a" }] },
    });
    expect((await start("liar")).body.errorDetails[0].code).toBe("FORBIDDEN");
  });

  it("refuses a key naming function's key that would overwrite the gateway's own records (500, nothing started)", async () => {
    badKey = true;
    try {
      const started = await start("team-a");
      expect(started).toMatchObject({ status: 500, body: { errorDetails: [{ code: "INTERNAL_ERROR" }] } });
    } finally {
      badKey = false;
    }
    const list = await call(`${host.base}/uploads-api/api/projects/team-a/uploads`, {
      headers: { "x-team": "team-a" },
    });
    expect(list.body.result.uploads).toHaveLength(1); // the one of the test before
  });
});

describe("UploadGatewayModule with an extended start body", () => {
  let dir: string;
  let host: { app: NestFastifyApplication; base: string };
  const key = `key-${randomBytes(16).toString("hex")}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "gateway-embed-"));
    host = await hostApp(
      UploadGatewayModule.forRoot({
        storage: { type: "local", dir, fsync: false },
        publicUrl: "http://127.0.0.1:1",
        auth: {
          projects: {
            projects: [{ id: "films" }],
            apiKeys: [{ name: "k", sha256: hashApiKey(key), projects: ["films"] }],
          },
        },
        startBody: refineStartUpload(
          startUploadBodyBase.extend({ costCenter: z.string().regex(/^CC-[0-9]{4}$/, "must be CC- and 4 digits") }),
        ),
      }),
    );
  });
  afterAll(async () => {
    await host?.app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (body: unknown) =>
    call(`${host.base}/api/projects/films/uploads/multipart`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}` },
      body,
    });

  it("validates starts with the app's schema: its field is required and checked, the gateway's checks still apply", async () => {
    expect((await start({ ...file(100), costCenter: "CC-0042" })).status).toBe(200);
    expect(await start(file(100))).toMatchObject({
      status: 400,
      body: { errorDetails: [{ code: "VALIDATION_FAILED", field: "costCenter", message: "is required" }] },
    });
    expect((await start({ ...file(100), costCenter: "42" })).body.errorDetails).toEqual([
      expect.objectContaining({ field: "costCenter", message: "must be CC- and 4 digits" }),
    ]);
    // The cross-field checks come with refineStartUpload: no plan of 30 parts exists for 100 bytes.
    expect((await start({ ...file(100), partsNumber: 30, costCenter: "CC-0042" })).body.errorDetails[0].field).toBe(
      "partsNumber",
    );
  });
});

describe("UploadGatewayModule in a Nest app on an HTTP platform other than Fastify and Express", () => {
  it("refuses to start with one error naming the platforms it runs on; nothing listens", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gateway-embed-"));
    @Module({
      imports: [
        UploadGatewayModule.forRoot({
          path: "/media",
          storage: { type: "local", dir, fsync: false },
          publicUrl: "http://127.0.0.1:1",
          auth: { projects: { projects: [{ id: "films" }], apiKeys: [] } },
        }),
      ],
      controllers: [HostController],
    })
    class OtherHostModule {}
    // A custom adapter (here Express under another name): the gateway cannot register its store's routes on it.
    class OtherAdapter extends ExpressAdapter {
      override getType(): string {
        return "koa";
      }
    }
    const app = await NestFactory.create(OtherHostModule, new OtherAdapter(), { logger: false });
    const port = await freePort();
    try {
      const error = await app.listen(port, "127.0.0.1").then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toMatchObject({
        name: "ConfigError",
        problems: [
          expect.stringMatching(
            /^UploadGatewayModule runs on Nest's Fastify or Express platform, and this app runs on koa: /,
          ),
        ],
      });
      await expect(fetch(`http://127.0.0.1:${port}/hello`)).rejects.toThrow();
    } finally {
      await app.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("UploadGatewayModule in an application context without HTTP (a worker)", () => {
  it("starts and stops: no HTTP platform to refuse, no routes to serve", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gateway-embed-"));
    const context = await NestFactory.createApplicationContext(
      UploadGatewayModule.forRoot({
        storage: { type: "local", dir, fsync: false },
        publicUrl: "http://127.0.0.1:1",
        auth: { projects: { projects: [{ id: "films" }], apiKeys: [] } },
      }),
      { logger: false },
    );
    try {
      await context.init();
    } finally {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("createUploadGateway", () => {
  it("builds the standalone server from options: its routes under the path, the demo page and /metrics at the root", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gateway-embed-"));
    const key = `key-${randomBytes(16).toString("hex")}`;
    const port = await freePort();
    const app = await createUploadGateway({
      path: "/media",
      storage: { type: "local", dir, fsync: false },
      publicUrl: `http://127.0.0.1:${port}`,
      auth: {
        projects: { projects: [{ id: "films" }], apiKeys: [{ name: "k", sha256: hashApiKey(key), projects: ["*"] }] },
      },
      server: { LOG_LEVEL: "silent", RATE_LIMIT_PER_MINUTE: 0, RATE_LIMIT_PER_IP_PER_MINUTE: 0 },
    });
    try {
      await app.listen(port, "127.0.0.1");
      const base = `http://127.0.0.1:${port}`;
      const started = await call(`${base}/media/api/projects/films/uploads/multipart`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}` },
        body: file(100),
      });
      expect(started.status).toBe(200);
      expect(started.body.result.presignedUrl[0].presignedUrl.startsWith(`${base}/media/storage/`)).toBe(true);
      // Options, not a dev project: no dev key is handed out.
      expect((await call(`${base}/media/api/dev-session`)).status).toBe(404);
      expect((await fetch(`${base}/metrics`)).status).toBe(200);
      // Unknown routes of the standalone server are envelopes.
      expect((await call(`${base}/api/nothing`)).body.errorDetails[0].code).toBe("ROUTE_NOT_FOUND");
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("limits the API under its path: a burst without a valid key meets 429 RATE_LIMITED", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gateway-embed-"));
    const app = await createUploadGateway({
      path: "/media",
      storage: { type: "local", dir, fsync: false },
      publicUrl: "http://127.0.0.1:1",
      auth: { projects: { projects: [{ id: "films" }], apiKeys: [] } },
      server: { LOG_LEVEL: "silent", RATE_LIMIT_PER_IP_PER_MINUTE: 2 },
    });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const reply = await app.inject({
          method: "GET",
          url: "/media/api/projects/films/uploads",
          headers: { authorization: `Bearer guess-${i}` },
        });
        statuses.push(reply.statusCode);
      }
      expect(statuses).toEqual([401, 401, 429]);
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses bad options with one line per problem, naming the option", async () => {
    await expect(
      createUploadGateway({ storage: { type: "local", dir: "" }, auth: {} as never, path: "a b" }),
    ).rejects.toThrow(/path: "a b" is not a URL path/);
    await expect(
      createUploadGateway({ storage: { type: "local", dir: "/tmp/x" }, auth: {} as never }),
    ).rejects.toMatchObject({
      problems: expect.arrayContaining([
        expect.stringMatching(/^publicUrl: is required/),
        expect.stringMatching(/^auth: /),
      ]),
    });
  });
});
