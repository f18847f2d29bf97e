import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type TestGateway } from "./support/gateway";

/**
 * Security headers on every reply, over HTTP. (That the demo page and the docs still work under their policy, with no
 * violation reported, is tested in Chromium: apps/web/test/mounted-and-policed.e2e.test.ts.)
 */

let local: TestGateway;
let base: string;
beforeAll(async () => {
  local = await startGateway({}, "local");
  base = (await local.app.getUrl()).replace("[::1]", "127.0.0.1");
});
afterAll(async () => {
  // Drop fetch's kept-alive sockets first: closing otherwise waits on one of them here (seen only with all four tests).
  local?.app.getHttpAdapter().getInstance().server.closeAllConnections();
  await local?.close();
});

const everywhere = { "x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY" };

function policy(reply: Response): Map<string, string> {
  const header = reply.headers.get("content-security-policy") ?? "";
  return new Map(
    header
      .split(";")
      .map((d) => d.trim().split(/\s+/))
      .map(([name = "", ...values]) => [name, values.join(" ")]),
  );
}

describe("pages (the docs, the demo)", () => {
  it("get a strict policy: own scripts and styles only, no framing, requests to the gateway and its store", async () => {
    const docs = await fetch(`${base}/docs`);
    expect(docs.status).toBe(200);
    await docs.arrayBuffer();
    expect(Object.fromEntries(Object.keys(everywhere).map((h) => [h, docs.headers.get(h)]))).toEqual(everywhere);
    const csp = policy(docs);
    expect(csp.get("default-src")).toBe("'self'");
    expect(csp.get("script-src")).toBe("'self' 'wasm-unsafe-eval'");
    expect(csp.get("worker-src")).toBe("'self' blob:");
    expect(csp.get("style-src")).toBe("'self'");
    expect(csp.get("object-src")).toBe("'none'");
    expect(csp.get("frame-ancestors")).toBe("'none'");
    expect(csp.get("base-uri")).toBe("'self'");
    expect(csp.get("connect-src")).toBe(`'self' ${base}`);
    expect(docs.headers.get("cross-origin-opener-policy")).toBe("same-origin");
  });
});

describe("the API and other data", () => {
  it("get nosniff and a policy that allows nothing, on successes and errors alike", async () => {
    for (const [path, status] of [
      [`/api/projects/${local.projectId}/uploads?limit=1`, 200],
      [`/api/projects/${local.projectId}/uploads`, 401],
      ["/api/nothing-here", 404],
      ["/health/ready", 200],
      ["/docs/assets/swagger-ui-bundle.js", 200],
    ] as const) {
      const reply = await fetch(`${base}${path}`, { headers: status === 401 ? {} : local.auth });
      expect(reply.status, path).toBe(status);
      expect(reply.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(reply.headers.get("referrer-policy"), path).toBe("no-referrer");
      expect(reply.headers.get("content-security-policy"), path).toBe(
        "default-src 'none'; frame-ancestors 'none'; sandbox",
      );
      expect(reply.headers.get("cross-origin-resource-policy"), path).toBe("same-origin");
      await reply.arrayBuffer(); // read to the end, so the connection is free when the gateway closes
    }
  });

  it("let pages on any origin read the liveness probe opaquely (no-cors): how the client tells CORS from no network", async () => {
    for (const path of ["/health/live", "/health/live?probe=1"]) {
      const reply = await fetch(`${base}${path}`);
      expect(reply.status, path).toBe(200);
      expect(reply.headers.get("cross-origin-resource-policy"), path).toBe("cross-origin");
      expect(reply.headers.get("content-security-policy"), path).toBe(
        "default-src 'none'; frame-ancestors 'none'; sandbox",
      );
      await reply.arrayBuffer();
    }
    const elsewhere = await fetch(`${base}/api/health/live-not`);
    expect(elsewhere.headers.get("cross-origin-resource-policy")).toBe("same-origin");
    await elsewhere.arrayBuffer();
  });

  it("serves the embedded store's downloads as attachments, unsniffed, sandboxed, embeddable by other sites", async () => {
    const api = `${base}/api/projects/${local.projectId}/uploads`;
    const json = { ...local.auth, "content-type": "application/json" };
    const html = "<script>alert(document.domain)</script>";
    const start: any = await (
      await fetch(`${api}/multipart`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({
          partsNumber: 1,
          fileName: "page.html",
          contentLength: html.length,
          mimeType: "text/html",
        }),
      })
    ).json();
    const put = await fetch(start.result.presignedUrl[0].presignedUrl, { method: "PUT", body: html });
    await put.arrayBuffer();
    expect(put.headers.get("x-content-type-options")).toBe("nosniff");
    const parts = [{ partNumber: 1, eTag: put.headers.get("etag") }];
    const completed = await fetch(`${api}/multipart-complete`, {
      method: "PUT",
      headers: json,
      body: JSON.stringify({ requestKey: start.result.requestKey, parts }),
    });
    expect(completed.status).toBe(200);
    await completed.arrayBuffer();
    const link: any = await (
      await fetch(`${api}/success/${start.result.requestKey}`, { method: "POST", headers: local.auth })
    ).json();

    const download = await fetch(link.result.downloadPath);
    expect(download.status).toBe(200);
    expect(await download.text()).toBe(html);
    expect(download.headers.get("content-disposition")).toMatch(/^attachment;/);
    expect(download.headers.get("x-content-type-options")).toBe("nosniff");
    expect(download.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'; sandbox");
    expect(download.headers.get("cross-origin-resource-policy")).toBe("cross-origin");
  });
});

describe("in S3 mode", () => {
  it("lets the pages send parts to the S3 endpoint that the part URLs name", async () => {
    const s3 = await startGateway({ S3_PUBLIC_ENDPOINT: "https://s3.uploads.example.test:8443/" });
    try {
      const docs = await s3.app.inject({ method: "GET", url: "/docs" });
      const csp = String(docs.headers["content-security-policy"]);
      expect(csp).toContain("connect-src 'self' https://s3.uploads.example.test:8443;");
    } finally {
      await s3.close();
    }
  });
});
