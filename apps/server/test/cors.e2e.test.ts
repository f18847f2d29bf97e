import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type TestGateway } from "./support/gateway";

/**
 * CORS as browsers see it, over HTTP: CORS_ORIGINS for every API route, a project's allowedOrigins for its own routes,
 * nothing at all for other origins. (The browser's side: apps/web/test/cross-origin.e2e.test.ts.)
 */

const APP = "http://app.example.test:8080";
const PROJECT_APP = "https://films.example.test";
const OTHER = "https://evil.example.test";

let gw: TestGateway;
let base: string;
beforeAll(async () => {
  gw = await startGateway({ CORS_ORIGINS: `${APP}, http://second.example.test` }, "local", {
    allowedOrigins: [PROJECT_APP],
  });
  base = await gw.app.getUrl();
  base = base.replace("[::1]", "127.0.0.1");
});
afterAll(async () => {
  await gw?.close();
});

const uploads = (projectId: string) => `${base}/api/projects/${projectId}/uploads`;

function preflight(
  url: string,
  origin: string,
  method = "POST",
  headers = "authorization, content-type, idempotency-key",
) {
  return fetch(url, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": method, "access-control-request-headers": headers },
  });
}

describe("preflights", () => {
  it("answers an allowed origin's preflight with the methods, headers and lifetime the API needs, before authentication", async () => {
    const reply = await preflight(`${uploads(gw.projectId)}/multipart`, APP);
    expect(reply.status).toBe(204);
    expect(reply.headers.get("access-control-allow-origin")).toBe(APP);
    expect(reply.headers.get("access-control-allow-methods")).toBe("GET, POST, PUT");
    expect(reply.headers.get("access-control-allow-headers")).toBe(
      "Authorization, Content-Type, Idempotency-Key, X-Request-Id",
    );
    expect(reply.headers.get("access-control-max-age")).toBe("7200");
    expect(reply.headers.get("access-control-allow-credentials")).toBeNull();
    expect(reply.headers.get("vary")).toMatch(/\bOrigin\b/);
  });

  it("gives an origin not allowed no CORS header, and says why in an envelope", async () => {
    const reply = await preflight(`${uploads(gw.projectId)}/multipart`, OTHER);
    expect(reply.status).toBe(403);
    expect([...reply.headers.keys()].filter((h) => h.startsWith("access-control-"))).toEqual([]);
    expect(await reply.json()).toMatchObject({ success: false, errorDetails: [{ code: "FORBIDDEN" }] });
  });

  it("allows a project's own origins on that project's routes only", async () => {
    expect(
      (await preflight(`${uploads(gw.projectId)}/multipart`, PROJECT_APP)).headers.get("access-control-allow-origin"),
    ).toBe(PROJECT_APP);
    expect((await preflight(`${uploads(gw.projectId)}?limit=1`, PROJECT_APP, "GET")).status).toBe(204);
    const elsewhere = await preflight(`${uploads(gw.foreignProjectId)}/multipart`, PROJECT_APP);
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.headers.get("access-control-allow-origin")).toBeNull();
    // An encoded id names the same project; a look-alike does not.
    expect(
      (await preflight(`${base}/api/projects/${encodeURIComponent(gw.projectId)}/uploads`, PROJECT_APP, "GET")).status,
    ).toBe(204);
    expect((await preflight(`${base}/api/projects/${gw.projectId}x/uploads`, PROJECT_APP, "GET")).status).toBe(403);
  });

  it("compares origins exactly: scheme, host and port", async () => {
    for (const near of [
      "https://app.example.test:8080",
      "http://app.example.test",
      "http://app.example.test:8081",
      "http://sub.app.example.test:8080",
      "null",
    ]) {
      expect((await preflight(uploads(gw.projectId), near, "GET")).status, near).toBe(403);
    }
  });
});

describe("requests", () => {
  it("lets an allowed origin read replies, errors included, with Retry-After, X-Request-Id and ETag exposed", async () => {
    const listed = await fetch(`${uploads(gw.projectId)}?limit=1`, { headers: { origin: APP, ...gw.auth } });
    expect(listed.status).toBe(200);
    expect(listed.headers.get("access-control-allow-origin")).toBe(APP);
    expect(listed.headers.get("access-control-expose-headers")).toBe("Retry-After, X-Request-Id, ETag");
    expect(listed.headers.get("vary")).toMatch(/\bOrigin\b/);
    const refused = await fetch(`${uploads(gw.projectId)}?limit=1`, { headers: { origin: APP } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-allow-origin")).toBe(APP);
  });

  it("sends other origins' requests no CORS header (the browser then withholds the reply)", async () => {
    const reply = await fetch(`${uploads(gw.projectId)}?limit=1`, { headers: { origin: OTHER, ...gw.auth } });
    expect([...reply.headers.keys()].filter((h) => h.startsWith("access-control-"))).toEqual([]);
    expect(reply.headers.get("vary")).toMatch(/\bOrigin\b/);
  });

  it("sends no CORS header outside the API", async () => {
    for (const path of ["/health/live", "/docs"]) {
      const reply = await fetch(`${base}${path}`, { headers: { origin: APP } });
      expect(reply.headers.get("access-control-allow-origin"), path).toBeNull();
    }
  });
});

describe("the embedded store's routes", () => {
  it("let any origin PUT parts and read their ETag and Retry-After", async () => {
    const reply = await fetch(`${base}/storage/uploads/u/parts/1`, {
      method: "OPTIONS",
      headers: { origin: OTHER, "access-control-request-method": "PUT" },
    });
    expect(reply.status).toBe(204);
    expect(reply.headers.get("access-control-allow-origin")).toBe("*");
    expect(reply.headers.get("access-control-expose-headers")).toMatch(/\bETag\b.*\bRetry-After\b/);
  });
});

describe("CORS_ORIGINS=*", () => {
  it("allows any origin with a literal *, and never credentials", async () => {
    const open = await startGateway({ CORS_ORIGINS: "*" }, "local");
    try {
      const url = `${(await open.app.getUrl()).replace("[::1]", "127.0.0.1")}/api/projects/${open.projectId}/uploads`;
      const reply = await preflight(url, OTHER, "GET");
      expect(reply.status).toBe(204);
      expect(reply.headers.get("access-control-allow-origin")).toBe("*");
      expect(reply.headers.get("access-control-allow-credentials")).toBeNull();
      const listed = await fetch(`${url}?limit=1`, { headers: { origin: OTHER, ...open.auth } });
      expect(listed.headers.get("access-control-allow-origin")).toBe("*");
    } finally {
      await open.close();
    }
  });
});
