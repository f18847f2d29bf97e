import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Controller, Get, Module, type DynamicModule, type INestApplication } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { verifyWebhook, type UploadEvent } from "@upload-gateway/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashApiKey, UploadGatewayModule, type AuthRequest, type UploadGatewayOptions } from "../src/index";
import { s3Env, testS3StorageOption } from "./support/gateway";
import { expectErrorEnvelope } from "./support/http";
import { rawRequest } from "./support/raw-http";
import { freePort } from "./support/server-process";

/**
 * UploadGatewayModule in a Nest app on Express, Nest's default platform (`NestFactory.create(AppModule)`, no adapter),
 * mounted under /media next to the app's own JSON route: what a platform team with an Express app gets. The round
 * trip common to both platforms is in embedding.e2e.test.ts; here, what Express could get wrong: its body parsers,
 * its replies (ETags, JSON for bytes), hostile bodies on the store's routes, and the module's other promises (webhooks,
 * upload tokens, S3).
 */

@Controller("hello")
class HostController {
  @Get()
  hello() {
    return { host: true };
  }
}

interface Host {
  app: INestApplication;
  base: string;
  port: number;
}

/** The app as a platform team has it: Nest's defaults (Express, Nest's JSON parser), the gateway under /media. */
async function expressHost(gateway: (base: string) => DynamicModule): Promise<Host> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  @Module({ imports: [gateway(base)], controllers: [HostController] })
  class HostModule {}
  const app = await NestFactory.create(HostModule, { logger: false });
  await app.listen(port, "127.0.0.1");
  return { app, base, port };
}

async function call(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown; raw?: string } = {},
) {
  const text = init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
  const response = await fetch(url, {
    method: init.method ?? "GET",
    headers: { ...(text === undefined ? {} : { "content-type": "application/json" }), ...init.headers },
    ...(text === undefined ? {} : { body: text }),
  });
  const body = await response.text();
  let parsed: any = body;
  try {
    parsed = JSON.parse(body);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

const md5 = (data: Uint8Array) => createHash("md5").update(data).digest();

describe("UploadGatewayModule on Express under /media: embedded store, API keys, upload tokens, webhooks", () => {
  const key = `key-${randomBytes(16).toString("hex")}`;
  const auth = { authorization: `Bearer ${key}` };
  const secret = "whsec_express_0123456789abcdef";
  const deliveries: { signature: string; raw: string }[] = [];
  let receiver: Server;
  let dir: string;
  let host: Host;
  let api: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "gateway-express-"));
    receiver = createServer((request, response) => {
      let raw = "";
      request.setEncoding("utf8");
      request.on("data", (chunk: string) => (raw += chunk));
      request.on("end", () => {
        deliveries.push({ signature: String(request.headers["upload-gateway-signature"]), raw });
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const hooks = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks`;
    host = await expressHost((publicUrl) =>
      UploadGatewayModule.forRoot({
        path: "/media",
        storage: { type: "local", dir, fsync: false },
        publicUrl,
        auth: {
          projects: {
            projects: [
              { id: "films", webhooks: [{ url: hooks, secret, events: ["upload.completed"] }] },
              { id: "docs", allowedMimeTypes: ["application/json"] },
            ],
            apiKeys: [{ name: "test", sha256: hashApiKey(key), projects: ["films", "docs"] }],
          },
        },
        webhooks: { allowPrivateNetworks: true, pollIntervalSeconds: 0.2, retryBaseSeconds: 0.2 },
        timeouts: { bodyIdleSeconds: 1 },
        limits: { maxFileSize: 64 * 1024 * 1024 },
      } satisfies UploadGatewayOptions & { path: string }),
    );
    api = `${host.base}/media/api/projects`;
  });
  afterAll(async () => {
    await host?.app.close();
    await new Promise((resolve) => receiver?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (
    size: number,
    extra: Record<string, unknown> = {},
    project = "films",
    headers: Record<string, string> = auth,
  ) =>
    call(`${api}/${project}/uploads/multipart`, {
      method: "POST",
      headers,
      body: { partsNumber: 1, fileName: "clip.mp4", contentLength: String(size), mimeType: "video/mp4", ...extra },
    });

  it("round trip with metadata: part PUT, complete, status and list, a byte-identical download with ranges, and the signed upload.completed webhook", async () => {
    const bytes = randomBytes(300_000);
    const started = await start(bytes.length, { metadata: { team: "sport", "shot-id": "A-17" } });
    expect(started.status).toBe(200);
    const { requestKey, presignedUrl } = started.body.result;
    expect(presignedUrl[0].presignedUrl.startsWith(`${host.base}/media/storage/uploads/`)).toBe(true);
    const put = await fetch(presignedUrl[0].presignedUrl, {
      method: "PUT",
      body: bytes,
      headers: { "content-md5": md5(bytes).toString("base64") },
    });
    expect(put.status).toBe(200);
    expect(put.headers.get("etag")).toBe(`"${md5(bytes).toString("hex")}"`);
    expect(put.headers.get("access-control-expose-headers")).toContain("ETag");
    // A page's preflight of the part URL, answered by the store (as S3's bucket CORS would), not by the app.
    const preflight = await fetch(presignedUrl[0].presignedUrl, {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example.com",
        "access-control-request-method": "PUT",
        "access-control-request-headers": "content-md5",
      },
    });
    expect([
      preflight.status,
      preflight.headers.get("access-control-allow-origin"),
      preflight.headers.get("access-control-allow-methods"),
    ]).toEqual([204, "*", "GET, HEAD, PUT, OPTIONS"]);
    const completed = await call(`${api}/films/uploads/multipart-complete`, {
      method: "PUT",
      headers: auth,
      body: { requestKey, parts: [{ partNumber: 1, eTag: put.headers.get("etag") }] },
    });
    expect(completed.body).toEqual({
      success: true,
      errors: [],
      messages: [],
      result: true,
      resultInfo: null,
      statusCode: 200,
    });
    const status = await call(`${api}/films/uploads/${requestKey}`, { headers: auth });
    expect(status.body.result).toMatchObject({ state: "completed", metadata: { team: "sport", "shot-id": "A-17" } });
    const list = await call(`${api}/films/uploads`, { headers: auth });
    expect(list.body.result.uploads.map((u: { requestKey: string }) => u.requestKey)).toContain(requestKey);

    const link = (await call(`${api}/films/uploads/success/${requestKey}`, { method: "POST", headers: auth })).body
      .result.downloadPath;
    const whole = await fetch(link);
    expect(whole.status).toBe(200);
    expect(whole.headers.get("content-length")).toBe(String(bytes.length));
    expect(Buffer.from(await whole.arrayBuffer()).equals(bytes)).toBe(true);
    const part = await fetch(link, { headers: { range: "bytes=1000-1999" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 1000-1999/${bytes.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(1000, 2000))).toBe(true);
    const head = await fetch(link, { method: "HEAD" });
    expect([head.status, head.headers.get("content-length"), head.headers.get("accept-ranges")]).toEqual([
      200,
      String(bytes.length),
      "bytes",
    ]);
    const beyond = await call(link, { headers: { range: `bytes=${bytes.length + 10}-` } });
    expect(beyond.headers.get("content-range")).toBe(`bytes */${bytes.length}`);
    expectErrorEnvelope(beyond, 416, "RANGE_NOT_SATISFIABLE");
    // Express's own reply helpers stay out: no ETag or 304 of Express's making on a download.
    expect((await fetch(link, { headers: { "if-none-match": '"anything"' } })).status).toBe(200);

    await expect.poll(() => deliveries.length, { timeout: 10_000, interval: 100 }).toBeGreaterThan(0);
    const [delivery] = deliveries;
    const event: UploadEvent = await verifyWebhook(secret, delivery!.signature, delivery!.raw);
    expect(event).toMatchObject({
      type: "upload.completed",
      data: { projectId: "films", requestKey, metadata: { team: "sport", "shot-id": "A-17" } },
    });
  });

  it("stores a JSON file's part unread by Express's body parser, whatever its Content-Type, and downloads it byte for byte", async () => {
    const json = Buffer.from(JSON.stringify({ a: 1, list: [1, 2, 3], text: "x".repeat(200_000) }));
    const started = await start(json.length, { fileName: "data.json", mimeType: "application/json" }, "docs");
    expect(started.status).toBe(200);
    const { requestKey, presignedUrl } = started.body.result;
    const put = await fetch(presignedUrl[0].presignedUrl, {
      method: "PUT",
      body: json,
      headers: { "content-type": "application/json" },
    });
    expect(put.status).toBe(200);
    await call(`${api}/docs/uploads/multipart-complete`, {
      method: "PUT",
      headers: auth,
      body: { requestKey, parts: [{ partNumber: 1, eTag: put.headers.get("etag") }] },
    });
    const link = (await call(`${api}/docs/uploads/success/${requestKey}`, { method: "POST", headers: auth })).body
      .result.downloadPath;
    expect(Buffer.from(await (await fetch(link)).arrayBuffer()).equals(json)).toBe(true);
  });

  it("answers failures in the exact envelope: 401, 404 project, 400 validation, malformed JSON, a JSON body over 2 MiB, a form body", async () => {
    expectErrorEnvelope(await start(100, {}, "films", {}), 401, "UNAUTHORIZED");
    expectErrorEnvelope(
      await start(100, {}, "films", { authorization: "Bearer wrong-key-0123456789" }),
      401,
      "UNAUTHORIZED",
    );
    expectErrorEnvelope(await start(100, {}, "nope"), 404, "PROJECT_NOT_FOUND");
    const invalid = await start(100, { partsNumber: 0 });
    expectErrorEnvelope(invalid, 400, "VALIDATION_FAILED");
    expect(invalid.body.errorDetails[0].field).toBe("partsNumber");
    expect(Object.keys(invalid.body)).toEqual(
      expect.arrayContaining(["success", "errors", "messages", "result", "resultInfo", "statusCode"]),
    );
    expectErrorEnvelope(await start(65 * 1024 * 1024), 413, "FILE_TOO_LARGE");
    expectErrorEnvelope(
      await call(`${api}/films/uploads/multipart`, { method: "POST", headers: auth, raw: '{"partsNumber": 1,' }),
      400,
      "MALFORMED_REQUEST",
    );
    expectErrorEnvelope(
      await call(`${api}/films/uploads/multipart`, {
        method: "POST",
        headers: auth,
        raw: `"${"x".repeat(2 * 1024 * 1024)}"`,
      }),
      413,
      "PAYLOAD_TOO_LARGE",
    );
    const form = await fetch(`${api}/films/uploads/multipart`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/x-www-form-urlencoded" },
      body: "partsNumber=1",
    });
    expectErrorEnvelope({ status: form.status, body: await form.json() }, 415, "UNSUPPORTED_MEDIA_TYPE");
    // The app's own routes keep Express's and Nest's answers.
    expect(await call(`${host.base}/hello`)).toMatchObject({ status: 200, body: { host: true } });
    expect((await call(`${host.base}/nothing-here`)).body).not.toHaveProperty("success");
  });

  it("takes a complete of 10,000 parts (a ~700 KB body, over Express's default 100 KB) and judges its parts, not its size", async () => {
    const started = await start(100);
    const parts = Array.from({ length: 10_000 }, (_, i) => ({ partNumber: i + 1, eTag: `"${"0".repeat(32)}"` }));
    const reply = await call(`${api}/films/uploads/multipart-complete`, {
      method: "PUT",
      headers: auth,
      body: { requestKey: started.body.result.requestKey, parts },
    });
    expect(reply.status).toBeGreaterThanOrEqual(400);
    expect(reply.status).toBeLessThan(500);
    expect(reply.body.errorDetails[0].code).not.toBe("PAYLOAD_TOO_LARGE");
  });

  it("refuses hostile part bodies with a clean 4xx in the envelope, never a 500, and the server keeps serving: too large, short, cut, stalled", async () => {
    const size = 50_000;
    const { presignedUrl, requestKey } = (await start(size)).body.result;
    const url = new URL(presignedUrl[0].presignedUrl);
    const target = `${url.pathname}${url.search}`;
    const head = (headers: string) => `PUT ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}\r\n`;

    // Declared larger than the URL grants: refused before a byte is read.
    const declared = await rawRequest(host.port, head(`Content-Length: ${size + 1}\r\n`), { tail: "x".repeat(100) });
    expectErrorEnvelope(declared, 413, "PAYLOAD_TOO_LARGE");
    expect(declared.closedByServer).toBe(true);
    // Chunked, more bytes than granted: cut as soon as it exceeds.
    const chunk = randomBytes(size + 10);
    const longer = await rawRequest(host.port, head("Transfer-Encoding: chunked\r\n"), {
      tail: Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n0\r\n\r\n")]),
    });
    expectErrorEnvelope(longer, 413, "PAYLOAD_TOO_LARGE");
    expect(longer.closedByServer).toBe(true);
    // ... also when the body goes on (no last chunk): answered at once, not when it ends or stalls (408).
    const endless = await rawRequest(host.port, head("Transfer-Encoding: chunked\r\n"), {
      tail: Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]),
    });
    expectErrorEnvelope(endless, 413, "PAYLOAD_TOO_LARGE");
    expect(endless.closedByServer).toBe(true);
    // Chunked and short of the grant.
    const shorter = await rawRequest(host.port, head("Transfer-Encoding: chunked\r\n"), {
      tail: "10\r\n0123456789abcdef\r\n0\r\n\r\n",
    });
    expectErrorEnvelope(shorter, 400, "PART_SIZE_MISMATCH");
    // Half a body, then the client hangs up: nothing answered, nothing kept.
    await rawRequest(host.port, head(`Content-Length: ${size}\r\n`), {
      tail: "x".repeat(size / 2),
      destroyAfterMs: 200,
    });
    // Half a body, then nothing (timeouts.bodyIdleSeconds: 1): 408 in the envelope, and the connection closes.
    const stalled = await rawRequest(host.port, head(`Content-Length: ${size}\r\n`), {
      tail: "x".repeat(size / 2),
      timeoutMs: 5000,
    });
    expectErrorEnvelope(stalled, 408, "REQUEST_TIMEOUT");
    expect(stalled.closedByServer).toBe(true);
    // Another part PUT on the same connection after the cut one is impossible: each of these is on a fresh one.
    // A bad signature, and a path that is not percent-encoding.
    expectErrorEnvelope(
      await call(url.href.replace(/signature=[^&]+/, "signature=00"), { method: "PUT", raw: "x" }),
      403,
      "FORBIDDEN",
    );
    expectErrorEnvelope(await call(`${host.base}/media/storage/objects/a%E0%A4%A/b`), 400, "MALFORMED_REQUEST");

    const status = await call(`${api}/films/uploads/${requestKey}`, { headers: auth });
    expect(status.body.result.uploadedParts).toEqual([]);
    const whole = randomBytes(size);
    expect((await fetch(url, { method: "PUT", body: whole })).status).toBe(200);
  });

  it("mints upload tokens with the API key; a token starts and completes its own upload, and may not list", async () => {
    const minted = await call(`${api}/films/upload-tokens`, { method: "POST", headers: auth, body: {} });
    expect(minted.status).toBe(200);
    const token = { authorization: `Bearer ${minted.body.result.token}` };
    const bytes = randomBytes(1000);
    const started = await start(bytes.length, {}, "films", token);
    expect(started.status).toBe(200);
    const put = await fetch(started.body.result.presignedUrl[0].presignedUrl, { method: "PUT", body: bytes });
    const completed = await call(`${api}/films/uploads/multipart-complete`, {
      method: "PUT",
      headers: token,
      body: { requestKey: started.body.result.requestKey, parts: [{ partNumber: 1, eTag: put.headers.get("etag") }] },
    });
    expect(completed.body.result).toBe(true);
    expectErrorEnvelope(await call(`${api}/films/uploads`, { headers: token }), 403, "TOKEN_NOT_ALLOWED");
  });

  it("serves its docs and their assets as bytes, with their own types", async () => {
    const css = await fetch(`${host.base}/media/docs/assets/swagger-ui.css`);
    expect([css.status, css.headers.get("content-type"), css.headers.get("cache-control")]).toEqual([
      200,
      "text/css; charset=utf-8",
      "public, max-age=86400",
    ]);
    expect((await css.text()).startsWith(".swagger-ui")).toBe(true);
    expect((await call(`${host.base}/media/api/openapi.json`)).body.servers[0].url).toBe(`${host.base}/media`);
    expectErrorEnvelope(await call(`${host.base}/media/docs/assets/__proto__`), 404, "ROUTE_NOT_FOUND");
  });

  it("answers an unknown route under /media/api with the envelope's 404, and leaves the app's 404s to the app", async () => {
    expectErrorEnvelope(
      await call(`${host.base}/media/api/projects/films/nothing`, { headers: auth }),
      404,
      "ROUTE_NOT_FOUND",
    );
    expectErrorEnvelope(
      await call(`${host.base}/media/api/projects/films/uploads`, { method: "PATCH", headers: auth }),
      404,
      "ROUTE_NOT_FOUND",
    );
    expect((await call(`${api}/films/uploads`, { headers: auth })).status).toBe(200);
    const hostMissing = await call(`${host.base}/media/nothing`);
    expect(hostMissing.status).toBe(404);
    expect(hostMissing.body).not.toHaveProperty("success");
  });
});

describe("UploadGatewayModule on Express with S3 (RGW) and a custom resolver", () => {
  let host: Host;
  const seen: AuthRequest[] = [];

  beforeAll(async () => {
    host = await expressHost(() =>
      UploadGatewayModule.forRoot({
        path: "/media",
        storage: testS3StorageOption(),
        auth: {
          resolve: (request) => {
            seen.push(request);
            return request.headers["x-team"] === request.projectId ? { id: request.projectId } : null;
          },
        },
      }),
    );
  });
  afterAll(async () => {
    await host?.app.close();
  });

  it("starts, takes the part at S3's presigned URL and completes; the resolver sees the headers and Express's request", async () => {
    const project = `team-${randomBytes(4).toString("hex")}`;
    const api = `${host.base}/media/api/projects/${project}/uploads`;
    const team = { "x-team": project };
    const bytes = randomBytes(2048);
    const started = await call(`${api}/multipart`, {
      method: "POST",
      headers: team,
      body: { partsNumber: 1, fileName: "clip.mp4", contentLength: String(bytes.length), mimeType: "video/mp4" },
    });
    expect(started.status).toBe(200);
    const { requestKey, presignedUrl } = started.body.result;
    expect(presignedUrl[0].presignedUrl.startsWith(s3Env().S3_ENDPOINT!)).toBe(true);
    const put = await fetch(presignedUrl[0].presignedUrl, { method: "PUT", body: bytes });
    expect(put.status).toBe(200);
    const completed = await call(`${api}/multipart-complete`, {
      method: "PUT",
      headers: team,
      body: { requestKey, parts: [{ partNumber: 1, eTag: put.headers.get("etag") }] },
    });
    expect(completed.body).toMatchObject({ success: true, result: true });
    expect((await call(`${api}/${requestKey}`, { headers: team })).body.result.state).toBe("completed");
    expectErrorEnvelope(await call(`${api}/multipart`, { method: "POST", body: {} }), 401, "UNAUTHORIZED");
    // No publicUrl: the docs' server is the mount path, relative to the host the docs are read on.
    expect((await call(`${host.base}/media/api/openapi.json`)).body.servers[0].url).toBe("/media");
    // The raw request is Express's: what a resolver reading cookies or the client address gets.
    expect(seen[0]).toMatchObject({
      projectId: project,
      headers: { "x-team": project },
      raw: { ip: expect.any(String), originalUrl: expect.stringContaining("/media/api/") },
    });
  });
});
