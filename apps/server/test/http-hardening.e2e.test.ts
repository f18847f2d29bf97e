import { readdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { Logger } from "@nestjs/common";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { LocalStorage } from "../src/storage/local.storage";
import type { Storage } from "../src/storage/storage.port";
import { STORAGE } from "../src/tokens";
import { startGateway, type TestGateway } from "./support/gateway";
import { call, expectErrorEnvelope, fieldsOf } from "./support/http";
import { rawRequest } from "./support/raw-http";

/**
 * Slow and hostile clients, over real sockets where `inject()` cannot express the abuse (broken HTTP, stalled and
 * trickled bodies, hang-ups), on the embedded store with short timeouts.
 */

const IDLE_S = 0.4;
const BODY_S = 1.2;
const HEADERS_S = 0.5;

let gw: TestGateway;
let port: number;
const api = (path = "") => `/api/projects/${gw.projectId}/uploads${path}`;

beforeAll(async () => {
  gw = await startGateway(
    {
      BODY_IDLE_TIMEOUT_SECONDS: String(IDLE_S),
      REQUEST_BODY_TIMEOUT_SECONDS: String(BODY_S),
      HEADERS_TIMEOUT_SECONDS: String(HEADERS_S),
    },
    "local",
  );
  port = (gw.app.getHttpServer().address() as AddressInfo).port;
});
afterAll(async () => {
  await gw?.close();
});

/** A one-part upload of `size` bytes and its part's URL (path and query). */
async function onePartUpload(size = 1000) {
  const { status, body } = await call(gw.app, "POST", api("/multipart"), {
    headers: gw.auth,
    body: { partsNumber: 1, fileName: "a.bin", contentLength: String(size), mimeType: "application/octet-stream" },
  });
  expect(status).toBe(200);
  const url = new URL(body.result.presignedUrl[0].presignedUrl);
  return { ...body.result, target: url.pathname + url.search } as {
    requestKey: string;
    uploadId: string;
    target: string;
  };
}

/** A single-PUT upload (`POST /url`) of `size` bytes of type application/octet-stream and its URL (path and query). */
async function singlePutUpload(size = 1000) {
  const { status, body } = await call(gw.app, "POST", api("/url"), {
    headers: gw.auth,
    body: { fileName: "a.bin", contentLength: String(size), mimeType: "application/octet-stream" },
  });
  expect(status).toBe(200);
  const url = new URL(body.result.url);
  return { ...body.result, target: url.pathname + url.search } as { requestKey: string; target: string };
}

/** Every file under the data dir, to see that a cut part left nothing behind. */
const filesOnDisk = () => readdirSync(gw.dir, { recursive: true }).map(String).sort();

/** Waits until the data dir holds exactly `expected` (a cut part's temporary file is removed asynchronously). */
async function expectFilesSettleTo(expected: string[]) {
  await vi.waitFor(() => expect(filesOnDisk()).toEqual(expected), { timeout: 3000, interval: 50 });
}

const jsonHead = (path: string, length: number, extra = "") =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n${extra}\r\n`;

describe("slow bodies are cut by their timeouts", () => {
  it("a JSON body that stalls gets 408 in the envelope after the idle timeout, before any key is checked", async () => {
    const reply = await rawRequest(port, jsonHead(api("/multipart"), 200) + '{"partsNumber":');
    expectErrorEnvelope(reply, 408, "REQUEST_TIMEOUT");
    expect(reply.body.errorDetails[0].retryable).toBe(true);
    expect(reply.headers.connection).toBe("close");
    expect(reply.closedByServer).toBe(true);
    expect(reply.elapsedMs).toBeGreaterThanOrEqual(IDLE_S * 1000 - 50);
    expect(reply.elapsedMs).toBeLessThan(IDLE_S * 1000 + 1500);
  });

  it("a JSON body that trickles (never idle) is cut at the body deadline", async () => {
    const reply = await rawRequest(port, jsonHead(api("/multipart"), 10_000) + "{", {
      trickle: { chunk: " ", everyMs: 100, count: 100 },
    });
    expectErrorEnvelope(reply, 408, "REQUEST_TIMEOUT");
    expect(reply.body.errors[0]).toMatch(/did not arrive within/);
    expect(reply.elapsedMs).toBeGreaterThanOrEqual(BODY_S * 1000 - 50);
    expect(reply.elapsedMs).toBeLessThan(BODY_S * 1000 + 1500);
  });

  it("a JSON body that arrives in pieces within its timeouts is accepted", async () => {
    const body = JSON.stringify({ partsNumber: 1, fileName: "a.bin", contentLength: "10", mimeType: "a/b" });
    const reply = await rawRequest(
      port,
      jsonHead(api("/multipart"), body.length, `Authorization: Bearer ${gw.apiKey}\r\nConnection: close\r\n`) +
        body.slice(0, 10),
      { trickle: { chunk: body.slice(10, 20), everyMs: IDLE_S * 500, count: 1 }, tail: body.slice(20) },
    );
    expect(reply.status).toBe(200);
    expect(reply.body.success).toBe(true);
  });

  it("a part PUT that stalls gets 408, and nothing of it stays on disk", async () => {
    const upload = await onePartUpload(1000);
    const before = filesOnDisk();
    const reply = await rawRequest(
      port,
      `PUT ${upload.target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n${"x".repeat(300)}`,
    );
    expectErrorEnvelope(reply, 408, "REQUEST_TIMEOUT");
    expect(reply.closedByServer).toBe(true);
    await expectFilesSettleTo(before);
    const storage = gw.app.get<Storage>(STORAGE);
    expect(
      await storage.listParts(`projects/${gw.projectId}/files/${upload.requestKey}`, upload.uploadId).catch(() => []),
    ).toEqual([]);
  });

  it("a part PUT that keeps sending is not cut by the JSON body deadline: parts may take long, only stalls are cut", async () => {
    const upload = await onePartUpload(100);
    const reply = await rawRequest(
      port,
      `PUT ${upload.target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\nConnection: close\r\n\r\n`,
      {
        // 10 bytes every IDLE/2 s: twice the JSON deadline in all, never idle for long.
        trickle: { chunk: "y".repeat(10), everyMs: (IDLE_S * 1000) / 2, count: 10 },
      },
    );
    expect(reply.elapsedMs).toBeGreaterThan(BODY_S * 1000);
    expect(reply.status).toBe(200);
    expect(reply.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
  });

  it("a single PUT that stalls gets 408 and nothing of it stays on disk; one that keeps sending is not cut", async () => {
    const upload = await singlePutUpload(1000);
    const before = filesOnDisk();
    const head = (length: number) =>
      `PUT ${upload.target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nIf-None-Match: *\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`;
    const stalled = await rawRequest(port, head(1000) + "x".repeat(300));
    expectErrorEnvelope(stalled, 408, "REQUEST_TIMEOUT");
    expect(stalled.closedByServer).toBe(true);
    await expectFilesSettleTo(before);
    expectErrorEnvelope(
      await call(gw.app, "POST", api(`/success/${upload.requestKey}`), { headers: gw.auth }),
      409,
      "UPLOAD_NOT_COMPLETED",
    );

    const slow = await singlePutUpload(100);
    const trickled = await rawRequest(port, head(100).replace(upload.target, slow.target), {
      trickle: { chunk: "y".repeat(10), everyMs: (IDLE_S * 1000) / 2, count: 10 },
    });
    expect(trickled.elapsedMs).toBeGreaterThan(BODY_S * 1000);
    expect(trickled.status).toBe(200);
    expect((await call(gw.app, "POST", api(`/success/${slow.requestKey}`), { headers: gw.auth })).status).toBe(200);
  });

  it("a client that hangs up mid-part leaves nothing on disk and is logged at info, not as an error", async () => {
    const info = vi.spyOn(Logger.prototype, "log");
    const error = vi.spyOn(Logger.prototype, "error");
    try {
      const upload = await onePartUpload(1000);
      const before = filesOnDisk();
      const reply = await rawRequest(
        port,
        `PUT ${upload.target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n${"x".repeat(300)}`,
        {
          destroyAfterMs: 100,
        },
      );
      expect(reply.closedByServer).toBe(false);
      await expectFilesSettleTo(before);
      await vi.waitFor(() =>
        expect(info).toHaveBeenCalledWith(expect.stringMatching(/closed PUT \/storage\/.* after 300 bytes/)),
      );
      expect(error).not.toHaveBeenCalled();
    } finally {
      info.mockRestore();
      error.mockRestore();
    }
  });

  it("a body no route reads (a GET's) closes the connection after the reply, and its timers do not fire later", async () => {
    const reply = await rawRequest(
      port,
      `GET /health/live HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789`,
    );
    expect(reply.status).toBe(200);
    expect(reply.headers.connection).toBe("close");
    expect(reply.closedByServer).toBe(true);
    // Past both body timeouts: an error no one listens to would crash the process (and fail this run).
    await new Promise((resolve) => setTimeout(resolve, BODY_S * 1000 + 300));
    expect((await call(gw.app, "GET", "/health/live")).status).toBe(200);
  });

  it("headers that never end get 408 in the envelope", async () => {
    const reply = await rawRequest(port, "GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    expectErrorEnvelope(reply, 408, "REQUEST_TIMEOUT");
    expect(reply.closedByServer).toBe(true);
  });
});

describe("what Node and Fastify refuse is the envelope too", () => {
  it.each([
    [
      "an invalid Content-Length",
      400,
      "MALFORMED_REQUEST",
      "POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 12abc\r\n\r\n",
    ],
    [
      "Content-Length with Transfer-Encoding",
      400,
      "MALFORMED_REQUEST",
      "POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ],
    ["a request line that is not HTTP", 400, "MALFORMED_REQUEST", "HELLO\r\n\r\n"],
    ["a header line without a colon", 400, "MALFORMED_REQUEST", "GET / HTTP/1.1\r\nHost: a\r\nbroken\r\n\r\n"],
    ["an HTTP/1.1 request without Host", 400, "MALFORMED_REQUEST", "GET /health/live HTTP/1.1\r\n\r\n"],
    [
      "headers over 16 KiB",
      431,
      "HEADERS_TOO_LARGE",
      `GET /health/live HTTP/1.1\r\nHost: a\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
    ],
    ["a URL over 16 KiB", 431, "HEADERS_TOO_LARGE", `GET /api/${"a".repeat(20_000)} HTTP/1.1\r\nHost: a\r\n\r\n`],
  ] as const)("%s → %i", async (_name, status, code, bytes) => {
    const reply = await rawRequest(port, bytes);
    expectErrorEnvelope(reply, status, code);
    expect(reply.closedByServer).toBe(true);
  });

  it("a byte range outside the object → 416", async () => {
    const upload = await onePartUpload(10);
    const put = await gw.app.inject({ method: "PUT", url: upload.target, payload: "0123456789" });
    const parts = [{ partNumber: 1, eTag: put.headers.etag }];
    expect(
      (
        await call(gw.app, "PUT", api("/multipart-complete"), {
          headers: gw.auth,
          body: { requestKey: upload.requestKey, parts },
        })
      ).status,
    ).toBe(200);
    const download = await call(gw.app, "POST", api(`/success/${upload.requestKey}`), { headers: gw.auth });
    const url = new URL(download.body.result.downloadPath);
    const reply = await gw.app.inject({
      method: "GET",
      url: url.pathname + url.search,
      headers: { range: "bytes=50-" },
    });
    expectErrorEnvelope({ status: reply.statusCode, body: reply.json() }, 416, "RANGE_NOT_SATISFIABLE");
    expect(reply.headers["content-range"]).toBe("bytes */10");
  });

  it("a bad %-escape in the path → 400", async () => {
    const reply = await rawRequest(port, `GET ${api("/%E0%A4%A")} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    expectErrorEnvelope(reply, 400, "MALFORMED_REQUEST");
  });

  it("a body shorter than its Content-Length, then a hang-up, answers nothing and breaks nothing", async () => {
    const reply = await rawRequest(port, jsonHead(api("/multipart"), 50) + "{}", { destroyAfterMs: 50 });
    expect(reply.closedByServer).toBe(false);
    expect((await call(gw.app, "GET", "/health/live")).status).toBe(200);
  });

  it("a method the path does not have → 405 with Allow", async () => {
    const reply = await call(gw.app, "DELETE", api("/multipart-complete"), { headers: gw.auth });
    expectErrorEnvelope(reply, 405, "METHOD_NOT_ALLOWED");
    // GET matches too: /multipart-complete is also a request key to GET /{requestKey}.
    expect(reply.headers.allow).toBe("GET, HEAD, PUT");
    const health = await call(gw.app, "POST", "/health/live");
    expectErrorEnvelope(health, 405, "METHOD_NOT_ALLOWED");
    expect(health.headers.allow).toBe("GET, HEAD");
  });

  it("a path no route has → 404, whatever the method", async () => {
    expectErrorEnvelope(await call(gw.app, "DELETE", "/nowhere"), 404, "ROUTE_NOT_FOUND");
    expectErrorEnvelope(await call(gw.app, "GET", "/api/nowhere"), 404, "ROUTE_NOT_FOUND");
    // Names of Object.prototype's members are not files either (found by the fuzz test: they answered 500).
    for (const name of ["__proto__", "constructor", "toString"]) {
      expectErrorEnvelope(await call(gw.app, "GET", `/docs/assets/${name}`), 404, "ROUTE_NOT_FOUND");
    }
  });

  it("a form or text body on a JSON route → 415, not parsed", async () => {
    for (const type of ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"]) {
      const reply = await call(gw.app, "POST", api("/multipart"), {
        headers: { ...gw.auth, "content-type": type },
        rawBody: "partsNumber=1&fileName=a&contentLength=10&mimeType=a%2Fb",
      });
      expectErrorEnvelope(reply, 415, "UNSUPPORTED_MEDIA_TYPE");
    }
  });

  it("`__proto__` and `constructor.prototype` keys → 400", async () => {
    for (const rawBody of [
      '{"__proto__":{"admin":true},"requestKey":"k"}',
      '{"constructor":{"prototype":{"admin":true}},"requestKey":"k"}',
    ]) {
      expectErrorEnvelope(
        await call(gw.app, "PUT", api("/multipart-abort"), { headers: gw.auth, rawBody }),
        400,
        "MALFORMED_REQUEST",
      );
    }
  });

  it("an unexpected failure in a store route → 500 in the envelope, its message kept out of the reply", async () => {
    const upload = await onePartUpload(10);
    const storage = gw.app.get<LocalStorage>(STORAGE);
    const spy = vi.spyOn(storage, "writePart").mockRejectedValueOnce(new Error("secret detail /var/lib/x"));
    const error = vi.spyOn(Logger.prototype, "error").mockImplementation(() => undefined);
    try {
      const reply = await gw.app.inject({ method: "PUT", url: upload.target, payload: "0123456789" });
      expectErrorEnvelope({ status: reply.statusCode, body: reply.json() }, 500, "INTERNAL_ERROR");
      expect(reply.body).not.toContain("secret");
      expect(error).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
      error.mockRestore();
    }
  });
});

describe("bodyless routes accept an empty body whatever its type", () => {
  it.each(["application/json", "text/plain", "application/octet-stream", "application/x-www-form-urlencoded"])(
    "Content-Type: %s",
    async (type) => {
      const headers = { ...gw.auth, "content-type": type };
      const download = await gw.app.inject({
        method: "POST",
        url: api("/success/0000000000000nosuchupload000000000"),
        headers,
      });
      expectErrorEnvelope({ status: download.statusCode, body: download.json() }, 404, "UPLOAD_NOT_FOUND");
      const list = await gw.app.inject({ method: "GET", url: api(), headers });
      expect(list.statusCode).toBe(200);
    },
  );

  it("over a real socket, with Content-Length: 0", async () => {
    const reply = await rawRequest(
      port,
      `POST ${api("/success/x")} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${gw.apiKey}\r\nContent-Type: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    expectErrorEnvelope(reply, 404, "UPLOAD_NOT_FOUND");
  });

  it("a route that needs a body, sent none, says the body is required", async () => {
    const reply = await call(gw.app, "PUT", api("/multipart-abort"), {
      headers: { ...gw.auth, "content-type": "application/json" },
    });
    expectErrorEnvelope(reply, 400, "VALIDATION_FAILED");
  });
});

describe("hostile strings → 400 naming the field", () => {
  const start = { partsNumber: 1, fileName: "a.mp4", contentLength: "10", mimeType: "video/mp4" };
  // Raw JSON text: a lone surrogate cannot survive JSON.stringify of a JS string as an escape otherwise.
  const startWith = (field: string, jsonValue: string) =>
    JSON.stringify(start).replace(/}$/, `,"${field}":${jsonValue}}`);

  it.each([
    ["fileName", "a lone high surrogate", '"\\ud800.mp4"'],
    ["fileName", "a lone low surrogate", '"a\\udc00b"'],
    ["fileName", "NUL", '"a\\u0000b"'],
    ["fileName", "ESC", '"a\\u001bb"'],
    ["fileName", "a C1 control", '"a\\u0085b"'],
    ["fileName", "100 KB", JSON.stringify("x".repeat(100_000))],
    ["mimeType", "a lone surrogate", '"video/\\ud800"'],
    ["mimeType", "100 KB", JSON.stringify(`video/${"x".repeat(100_000)}`)],
    ["fileHash", "a lone surrogate", '"\\ud800"'],
    ["fileHash", "a newline", '"a\\nb"'],
    ["fileHash", "100 KB", JSON.stringify("f".repeat(100_000))],
  ])("start with %s holding %s", async (field, _what, jsonValue) => {
    const reply = await call(gw.app, "POST", api("/multipart"), {
      headers: gw.auth,
      rawBody: startWith(field, jsonValue),
    });
    expectErrorEnvelope(reply, 400, "VALIDATION_FAILED");
    expect(fieldsOf(reply.body)).toContain(field);
    expect(reply.body.errors.join(" ").length).toBeLessThan(2000);
  });

  it("a file name with emoji, right-to-left text and combining marks is fine", async () => {
    const reply = await call(gw.app, "POST", api("/multipart"), {
      headers: gw.auth,
      body: { ...start, fileName: "🎬 فيلم e\u0301\u202e.mp4" },
    });
    expect(reply.status).toBe(200);
  });

  it.each([
    ["/multipart-abort", "requestKey", "a lone surrogate", "PUT", '{"requestKey":"\\ud800"}'],
    ["/multipart-abort", "requestKey", "100 KB", "PUT", `{"requestKey":${JSON.stringify("k".repeat(100_000))}}`],
    ["/multipart-resume", "requestKey", "NUL", "POST", '{"requestKey":"a\\u0000"}'],
    [
      "/multipart-complete",
      "parts.0.eTag",
      "a lone surrogate",
      "PUT",
      '{"requestKey":"k","parts":[{"partNumber":1,"eTag":"\\udfff"}]}',
    ],
  ])("%s with %s holding %s", async (path, field, _what, method, rawBody) => {
    const reply = await call(gw.app, method as "PUT" | "POST", api(path), { headers: gw.auth, rawBody });
    expectErrorEnvelope(reply, 400, "VALIDATION_FAILED");
    expect(fieldsOf(reply.body)).toContain(field);
  });

  it("in the path and the query", async () => {
    const longKey = await call(gw.app, "GET", api(`/${"k".repeat(1000)}`), { headers: gw.auth });
    expectErrorEnvelope(longKey, 400, "VALIDATION_FAILED");
    expect(fieldsOf(longKey.body)).toEqual(["requestKey"]);
    const controlKey = await call(gw.app, "POST", api("/success/a%07b"), { headers: gw.auth });
    expectErrorEnvelope(controlKey, 400, "VALIDATION_FAILED");
    expect(fieldsOf(controlKey.body)).toEqual(["requestKey"]);
    const cursor = await call(gw.app, "GET", `${api()}?cursor=%ED%A0%80`, { headers: gw.auth });
    expect(cursor.status).toBe(400);
    expect(cursor.body.success).toBe(false);
  });
});
