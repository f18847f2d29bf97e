import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NestFastifyApplication } from "@nestjs/platform-fastify";
import { afterEach, describe, expect, it } from "vitest";
import { sha256Hex } from "../src/auth/project-registry";
import { throwawayGateways } from "./support/gateway";
import { freePort, startServerProcess } from "./support/server-process";

/** Log lines as an operator's log shipper reads them: one JSON object per line, captured from the server's logger. */

const DEV_KEY = "dev_0123456789abcdef0123";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const gateways = throwawayGateways();
let lines: Record<string, any>[] = [];
let raw = "";

afterEach(async () => {
  await gateways.closeAll();
  lines = [];
  raw = "";
});

/** A dev-mode gateway logging at info (unless `env` says otherwise) into `lines` and `raw`. */
async function gateway(env: Record<string, string> = {}, projects?: unknown): Promise<NestFastifyApplication> {
  const destination = {
    write(line: string) {
      raw += line;
      lines.push(JSON.parse(line) as Record<string, any>);
    },
  };
  return gateways.start({
    env: { DEV_API_KEY: DEV_KEY, LOG_LEVEL: "info", ...env },
    projects,
    logging: { destination },
  });
}

/** Starts a one-part upload of the dev project; its request key and part URL. */
async function startOnePart(
  gw: NestFastifyApplication,
  contentLength: number,
): Promise<{ requestKey: string; partUrl: URL }> {
  const start = await gw.inject({
    method: "POST",
    url: "/api/projects/demo/uploads/multipart",
    headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/json" },
    payload: JSON.stringify({
      partsNumber: 1,
      fileName: "a.mp4",
      contentLength: String(contentLength),
      mimeType: "video/mp4",
    }),
  });
  expect(start.statusCode).toBe(200);
  const { requestKey, presignedUrl } = start.json().result as {
    requestKey: string;
    presignedUrl: { presignedUrl: string }[];
  };
  return { requestKey, partUrl: new URL(presignedUrl[0]!.presignedUrl) };
}

const accessLines = () => lines.filter((l) => l.msg === "request completed" || l.msg === "request failed");

describe("request ids", () => {
  it("takes a valid X-Request-Id, echoes it and writes one access line with method, route, status, duration", async () => {
    const gw = await gateway();
    const reply = await gw.inject({
      method: "GET",
      url: "/api/projects/demo/uploads?limit=5",
      headers: { "x-request-id": "req-42.abc:1", authorization: `Bearer ${DEV_KEY}` },
    });
    expect(reply.statusCode).toBe(200);
    expect(reply.headers["x-request-id"]).toBe("req-42.abc:1");
    const access = accessLines();
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({
      level: 30,
      requestId: "req-42.abc:1",
      method: "GET",
      route: "/api/projects/:projectId/uploads",
      url: "/api/projects/demo/uploads?limit=5",
      status: 200,
    });
    expect(typeof access[0]!.durationMs).toBe("number");
    expect(typeof access[0]!.time).toBe("number");
  });

  it.each([
    ["too long", "a".repeat(129)],
    ["with spaces and quotes", 'x" y'],
    ["with a newline escape", "abc\\nfake"],
    ["empty", ""],
  ])("replaces an X-Request-Id %s with a generated UUID", async (_name, given) => {
    const gw = await gateway();
    const reply = await gw.inject({ method: "GET", url: "/health/live", headers: { "x-request-id": given } });
    const id = reply.headers["x-request-id"] as string;
    expect(id).toMatch(UUID);
    expect(accessLines()[0]).toMatchObject({ requestId: id, route: "/health/live", status: 200 });
  });

  it("generates a different id per request, on errors and unknown routes too", async () => {
    const gw = await gateway();
    const a = await gw.inject({ method: "GET", url: "/api/nowhere" });
    const b = await gw.inject({
      method: "POST",
      url: "/api/projects/demo/uploads/multipart",
      payload: "{",
      headers: { "content-type": "application/json", authorization: `Bearer ${DEV_KEY}` },
    });
    expect(a.statusCode).toBe(404);
    expect(b.statusCode).toBe(400);
    expect(a.headers["x-request-id"]).toMatch(UUID);
    expect(b.headers["x-request-id"]).toMatch(UUID);
    expect(a.headers["x-request-id"]).not.toBe(b.headers["x-request-id"]);
    expect(accessLines().map((l) => [l.route, l.status])).toEqual([
      ["/*", 404],
      ["/api/projects/:projectId/uploads/multipart", 400],
    ]);
  });
});

describe("clients that give up", () => {
  it("logs a part PUT its client cut midway at info, not as an error, and stores nothing", async () => {
    const gw = await gateway({ PUBLIC_URL: "http://127.0.0.1:0" });
    await gw.listen(0, "127.0.0.1");
    const port = (gw.getHttpServer().address() as AddressInfo).port;
    const { requestKey, partUrl } = await startOnePart(gw, 1_000_000);
    // Half the promised body, then the client goes away.
    const socket = connect(port, "127.0.0.1");
    socket.on("error", () => {});
    socket.write(
      `PUT ${partUrl.pathname}${partUrl.search} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: 1000000\r\n\r\n`,
    );
    socket.write(Buffer.alloc(500_000));
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.destroy();
    const cut = () => lines.find((l) => typeof l.msg === "string" && l.msg.startsWith("The client closed PUT"));
    for (let i = 0; i < 100 && !cut(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(cut()).toMatchObject({ level: 30 });
    expect(cut()!.msg).not.toContain("signature="); // the URL is logged without its query
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    const resume = await gw.inject({
      method: "POST",
      url: "/api/projects/demo/uploads/multipart-resume",
      headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/json" },
      payload: JSON.stringify({ requestKey }),
    });
    expect(resume.statusCode).toBe(200);
    expect(resume.json().result.uploadedParts).toEqual([]);
  });
});

describe("redaction", () => {
  it("keeps API keys and URL signatures out of every line", async () => {
    const gw = await gateway({ LOG_LEVEL: "trace" });
    const { partUrl } = await startOnePart(gw, 5);
    const signature = partUrl.searchParams.get("signature")!;
    expect(signature.length).toBeGreaterThan(10);
    const put = await gw.inject({
      method: "PUT",
      url: partUrl.pathname + partUrl.search,
      payload: "hello",
      headers: { "content-type": "application/octet-stream" },
    });
    expect(put.statusCode).toBe(200);
    const partLine = accessLines().find((l) => l.method === "PUT");
    expect(partLine?.url).toContain("signature=[REDACTED]");
    expect(partLine?.url).toContain("expires=");
    expect(raw).not.toContain(signature);
    expect(raw).not.toContain(DEV_KEY);
  });
});

describe("error replies", () => {
  const key = "key-errorlines-0123456789abcdef";
  const projects = {
    projects: [{ id: "films" }],
    apiKeys: [{ name: "ci-uploader", sha256: sha256Hex(key), projects: ["films"] }],
  };
  const api = "/api/projects/films/uploads";
  const json = { "content-type": "application/json" };
  const lineOf = (reply: { headers: Record<string, unknown> }) =>
    accessLines().find((l) => l.requestId === reply.headers["x-request-id"]);

  it("carry the envelope's error code and the API key's name, never the key", async () => {
    const gw = await gateway({ DEV_API_KEY: "" }, projects);
    const invalid = await gw.inject({
      method: "POST",
      url: `${api}/multipart`,
      headers: { authorization: `Bearer ${key}`, ...json },
      payload: JSON.stringify({ partsNumber: 0, fileName: "a.mp4", contentLength: "5", mimeType: "video/mp4" }),
    });
    expect(invalid.statusCode).toBe(400);
    expect(lineOf(invalid)).toMatchObject({ status: 400, code: "VALIDATION_FAILED", keyName: "ci-uploader" });
    const missing = await gw.inject({
      method: "GET",
      url: `${api}/no-such-upload`,
      headers: { authorization: `Bearer ${key}` },
    });
    expect(lineOf(missing)).toMatchObject({ status: 404, code: "UPLOAD_NOT_FOUND", keyName: "ci-uploader" });
    // An unknown key is no one's: the line has the code, and neither a name nor the bearer.
    const unknown = await gw.inject({
      method: "GET",
      url: api,
      headers: { authorization: "Bearer key-not-known-0123456789" },
    });
    expect(lineOf(unknown)).toMatchObject({ status: 401, code: "UNAUTHORIZED" });
    expect(lineOf(unknown)).not.toHaveProperty("keyName");
    // Successes stay as they were: no code, no caller.
    const listed = await gw.inject({ method: "GET", url: api, headers: { authorization: `Bearer ${key}` } });
    expect(lineOf(listed)).toMatchObject({ status: 200 });
    expect(lineOf(listed)).not.toHaveProperty("code");
    expect(lineOf(listed)).not.toHaveProperty("keyName");
    expect(raw).not.toContain(key);
    expect(raw).not.toContain("key-not-known-0123456789");
  });

  it("name a token by its id, never the token", async () => {
    const gw = await gateway({ DEV_API_KEY: "" }, projects);
    const minted = await gw.inject({
      method: "POST",
      url: "/api/projects/films/upload-tokens",
      headers: { authorization: `Bearer ${key}`, ...json },
      payload: "{}",
    });
    expect(minted.statusCode).toBe(200);
    const token = minted.json().result.token as string;
    const refused = await gw.inject({ method: "GET", url: api, headers: { authorization: `Bearer ${token}` } });
    expect(refused.statusCode).toBe(403);
    const line = lineOf(refused);
    expect(line).toMatchObject({ status: 403, code: "TOKEN_NOT_ALLOWED", tokenId: expect.any(String) });
    expect(line!.tokenId.length).toBeGreaterThan(0);
    expect(raw).not.toContain(token);
    expect(raw).not.toContain(token.split(".")[2]);
  });

  it("log a refused CORS preflight with the page's origin and the code; an allowed one without", async () => {
    const gw = await gateway({ DEV_API_KEY: "", CORS_ORIGINS: "https://app.example" }, projects);
    const preflight = (origin: string) =>
      gw.inject({
        method: "OPTIONS",
        url: `${api}/multipart`,
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization,content-type",
        },
      });
    const refused = await preflight("https://elsewhere.example");
    expect(refused.statusCode).toBe(403);
    expect(lineOf(refused)).toMatchObject({
      method: "OPTIONS",
      status: 403,
      code: "FORBIDDEN",
      origin: "https://elsewhere.example",
    });
    const allowed = await preflight("https://app.example");
    expect(allowed.statusCode).toBe(204);
    expect(lineOf(allowed)).not.toHaveProperty("origin");
    // The Origin header is the client's text: logged cut short.
    const long = await preflight(`https://${"a".repeat(5000)}.example`);
    expect(lineOf(long)!.origin.length).toBeLessThanOrEqual(200);
  });
});

describe("storage failures", () => {
  it("are logged with their cause on the request's access line", async () => {
    const key = "key-0123456789abcdef0123456789";
    // Nothing listens on port 9: every S3 call fails to connect.
    const gw = await gateway(
      {
        STORAGE: "s3",
        S3_ENDPOINT: "http://127.0.0.1:9",
        S3_BUCKET: "videos",
        S3_FORCE_PATH_STYLE: "true",
        AWS_ACCESS_KEY_ID: "AKIDLOGTEST",
        AWS_SECRET_ACCESS_KEY: "secret-log-test",
        DEV_API_KEY: "",
      },
      { projects: [{ id: "films" }], apiKeys: [{ name: "k", sha256: sha256Hex(key), projects: ["*"] }] },
    );
    const reply = await gw.inject({
      method: "POST",
      url: "/api/projects/films/uploads/multipart",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      payload: JSON.stringify({ partsNumber: 1, fileName: "a.mp4", contentLength: "5", mimeType: "video/mp4" }),
    });
    expect(reply.statusCode).toBe(503);
    const line = accessLines().find((l) => l.status === 503);
    expect(line).toMatchObject({ level: 50, msg: "request failed", requestId: reply.headers["x-request-id"] });
    expect(JSON.stringify(line!.err)).toMatch(/ECONNREFUSED/);
    expect(raw).not.toContain("secret-log-test");
  }, 30_000);
});

describe("Nest's own lines", () => {
  it("are JSON through the same logger; route mapping only at debug", async () => {
    const first = await gateway();
    expect(lines.some((l) => l.context === "NestApplication")).toBe(true);
    expect(lines.some((l) => l.context === "RouterExplorer")).toBe(false);
    await gateways.close(first);
    lines = [];
    await gateway({ LOG_LEVEL: "debug" });
    expect(lines.some((l) => l.context === "RouterExplorer" && l.level === 20)).toBe(true);
  });
});

describe("the built server", () => {
  it("writes JSON lines with request ids to stdout", async () => {
    const data = mkdtempSync(join(tmpdir(), "logging-built-"));
    const server = await startServerProcess({
      PORT: String(await freePort()),
      LOCAL_STORAGE_DIR: data,
      DEV_API_KEY: DEV_KEY,
      NODE_ENV: "production",
    });
    try {
      const reply = await fetch(`${server.url}/health/live`, { headers: { "x-request-id": "from-the-proxy-1" } });
      expect(reply.headers.get("x-request-id")).toBe("from-the-proxy-1");
      await new Promise((r) => setTimeout(r, 200));
      const json = server
        .output()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, any>);
      expect(json.find((l) => l.requestId === "from-the-proxy-1")).toMatchObject({
        route: "/health/live",
        status: 200,
      });
    } finally {
      await server.stop();
      rmSync(data, { recursive: true, force: true });
    }
  }, 30_000);
});
