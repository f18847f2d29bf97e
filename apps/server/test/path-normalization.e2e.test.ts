import type { AddressInfo } from "node:net";
import { contract } from "@upload-gateway/contract";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../src/auth/project-registry";
import { createGatewayApp, type GatewayApp } from "./support/gateway";
import { rawRequest, type RawReply } from "./support/raw-http";

/**
 * Every spelling of every route meets every policy: the router decodes `%61` to `a`, so a policy matching the raw URL
 * against `/api` was skipped by `/%61pi/...` (no rate limit, no CORS), `//api/...` and `/API/...` got the demo page,
 * and `/%73torage/...` downloads the page's CSP. Generated spellings (percent-encoded unreserved characters, case
 * changes, doubled slashes, dot segments) of each of the contract's routes and of a store download, over raw sockets
 * (fetch would normalize them): the API's policies apply to each, or it is the API's 404 envelope, never the page.
 */

const KEY = "key-paths-0123456789abcdef";
const ORIGIN = "https://app.example.test";
const DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox";
const IP_LIMIT = 2;

let gateway: GatewayApp;
let port: number;
/** The path and query of a signed download of an HTML page with a script. */
let download: string;
beforeAll(async () => {
  gateway = await createGatewayApp({
    projects: {
      projects: [{ id: "films" }, { id: "slow", rateLimitPerMinute: 3 }],
      apiKeys: [{ name: "k", sha256: sha256Hex(KEY), projects: ["*"] }],
    },
    env: { RATE_LIMIT_PER_IP_PER_MINUTE: String(IP_LIMIT), CORS_ORIGINS: ORIGIN, TRUST_PROXY: "true" },
    listen: true,
  });
  port = (gateway.app.getHttpServer().address() as AddressInfo).port;
  download = await uploadPage();
});
afterAll(() => gateway?.close());

/** One request exactly as written, from the client address `ip` (the gateway trusts X-Forwarded-For here). */
const send = (method: string, target: string, ip: string, headers: Record<string, string> = {}): Promise<RawReply> => {
  const lines = Object.entries({
    host: "gw.test",
    origin: ORIGIN,
    "x-forwarded-for": ip,
    "content-length": "0",
    ...headers,
  });
  const head = `${method} ${target} HTTP/1.1\r\n${lines.map(([k, v]) => `${k}: ${v}\r\n`).join("")}connection: close\r\n\r\n`;
  return rawRequest(port, head);
};

async function uploadPage(): Promise<string> {
  const html = "<script>alert(document.domain)</script>";
  const api = (path: string, method: string, body?: unknown) =>
    gateway.app.inject({
      method: method as "POST",
      url: `/api/projects/films/uploads${path}`,
      headers: { authorization: `Bearer ${KEY}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { payload: JSON.stringify(body) } : {}),
    });
  const start = (
    await api("/multipart", "POST", {
      partsNumber: 1,
      fileName: "p.html",
      contentLength: html.length,
      mimeType: "text/html",
    })
  ).json();
  const put = await fetch(start.result.presignedUrl[0].presignedUrl, { method: "PUT", body: html });
  const parts = [{ partNumber: 1, eTag: put.headers.get("etag") }];
  expect((await api("/multipart-complete", "PUT", { requestKey: start.result.requestKey, parts })).statusCode).toBe(
    200,
  );
  const link = (await api(`/success/${start.result.requestKey}`, "POST")).json();
  const url = new URL(link.result.downloadPath as string);
  return url.pathname + url.search;
}

/** The contract's routes as requests: method and path with its parameters filled in. */
function contractRoutes(): { method: string; path: string }[] {
  const routes: { method: string; path: string }[] = [];
  const walk = (node: object) => {
    for (const value of Object.values(node) as unknown[]) {
      if (!value || typeof value !== "object") continue;
      const route = value as { method?: unknown; path?: unknown };
      if (typeof route.method === "string" && typeof route.path === "string") {
        routes.push({
          method: route.method,
          path: route.path.replace(":projectId", "films").replace(":requestKey", "rk-0123456789"),
        });
      } else walk(value);
    }
  };
  walk(contract);
  return routes;
}

/** A spelling of `path` the router or a proxy may read as the same path (or as the same area, differently cased). */
function spelling(path: string): fc.Arbitrary<string> {
  const chars = [...path];
  return fc
    .tuple(
      fc.array(fc.constantFrom("keep", "keep", "encode", "encode-lower", "case"), {
        minLength: chars.length,
        maxLength: chars.length,
      }),
      fc.array(fc.constantFrom("/", "/", "/", "//", "/./", "/x/../", "/%2e/", "/X/%2E%2E/"), {
        minLength: chars.length,
        maxLength: chars.length,
      }),
    )
    .map(([charEdits, slashEdits]) =>
      chars
        .map((char, i) => {
          if (char === "/") return slashEdits[i]!;
          const edit = charEdits[i];
          if (!/[A-Za-z0-9._~-]/.test(char) || edit === "keep") return char;
          if (edit === "case") return char === char.toLowerCase() ? char.toUpperCase() : char.toLowerCase();
          const hex = char.charCodeAt(0).toString(16).padStart(2, "0");
          return `%${edit === "encode" ? hex.toUpperCase() : hex}`;
        })
        .join(""),
    )
    .filter((spelled) => spelled !== path);
}

let nextIp = 0;
const freshIp = () => `10.${(++nextIp >> 16) & 255}.${(nextIp >> 8) & 255}.${nextIp & 255}`;

function expectNotThePage(reply: RawReply, what: string): void {
  expect(reply.status, what).toBeLessThan(500);
  expect(reply.headers["content-type"], what).toMatch(/^application\/json/);
  expect(reply.body?.success, what).toBeTypeOf("boolean");
  if (reply.status === 404 && reply.body?.success === false)
    expect(reply.body.errorDetails[0].code, what).toBe("ROUTE_NOT_FOUND");
}

describe("every spelling of a route", () => {
  const api = contractRoutes().filter((route) => route.path.startsWith("/api/"));
  const health = contractRoutes().filter((route) => route.path.startsWith("/health/"));

  it("of the API is counted, limited, CORS-checked and sandboxed like the route itself, or is the API's 404", async () => {
    expect(api.length).toBeGreaterThanOrEqual(10);
    const cases = fc.oneof(...api.map((route) => spelling(route.path).map((spelled) => ({ ...route, spelled }))));
    await fc.assert(
      fc.asyncProperty(cases, async ({ method, path, spelled }) => {
        const ip = freshIp();
        const what = `${method} ${spelled} (of ${path})`;
        // Two requests spelled so use up this address's budget: the route itself, spelled plainly, is then refused.
        for (let i = 0; i < IP_LIMIT; i++) {
          const reply = await send(method, spelled, ip);
          expectNotThePage(reply, what);
          expect(reply.headers["ratelimit-limit"], what).toBe(String(IP_LIMIT));
          expect(reply.headers["access-control-allow-origin"], what).toBe(ORIGIN);
          expect(reply.headers["vary"], what).toMatch(/\bOrigin\b/);
          expect(reply.headers["content-security-policy"], what).toBe(DATA_POLICY);
          expect(reply.headers["x-content-type-options"], what).toBe("nosniff");
        }
        expect((await send(method, path, ip)).status, what).toBe(429);
        expect((await send(method, spelled, ip)).status, what).toBe(429);
      }),
      { numRuns: 120 },
    );
  });

  it("of the probes, and of the store's download of an HTML page, keeps their policies: never the page's", async () => {
    const [downloadPath = "", query = ""] = download.split("?");
    const cases = fc.oneof(
      ...health.map((route) =>
        spelling(route.path).map((spelled) => ({ method: route.method, spelled, store: false })),
      ),
      spelling(downloadPath).map((spelled) => ({ method: "GET", spelled: `${spelled}?${query}`, store: true })),
    );
    await fc.assert(
      fc.asyncProperty(cases, async ({ method, spelled, store }) => {
        const reply = await send(method, spelled, freshIp());
        const what = `${method} ${spelled}`;
        expect(reply.status, what).toBeLessThan(500);
        expect(reply.headers["content-security-policy"], what).toBe(DATA_POLICY);
        expect(reply.headers["ratelimit-limit"], what).toBeUndefined();
        if (store) {
          expect(reply.headers["cross-origin-resource-policy"], what).toBe("cross-origin");
          // The page itself, sandboxed, when the router read the spelling as the download; else the envelope.
          if (reply.status !== 200) expectNotThePage(reply, what);
          else expect(reply.body, what).toContain("<script>");
        } else {
          expectNotThePage(reply, what);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("counts a key's calls in one budget whichever way the route is spelled", async () => {
    const list = (target: string) => send("GET", target, freshIp(), { authorization: `Bearer ${KEY}` });
    const statuses = [];
    for (const target of [
      "/api/projects/slow/uploads",
      "/%61pi/projects/slow/uploads",
      "/ap%69/projects/%73low/uploads",
      "/%61pi/projects/slow/uploads",
    ]) {
      statuses.push((await list(target)).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});
