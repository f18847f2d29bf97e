import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoGateway, type DemoGateway } from "./support/demo-gateway";

/** The built server finds the built page, and keeps its own paths. */

let gateway: DemoGateway;
beforeAll(async () => {
  gateway = await startDemoGateway();
});
afterAll(async () => {
  await gateway?.close();
});

describe("the page as the gateway serves it", () => {
  it("serves the app at / (revalidated) with its hashed assets (cached for good)", async () => {
    const page = await fetch(`${gateway.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("cache-control")).toBe("no-cache");
    const html = await page.text();
    // Relative, so that the page works wherever the gateway is mounted.
    const script = /<script type="module" crossorigin src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${gateway.url}/${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
  });

  it("falls back to the app for other paths, but the API's unknown paths stay envelopes", async () => {
    const deep = await fetch(`${gateway.url}/uploads/anything`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toContain('<div id="root">');
    const api = await fetch(`${gateway.url}/api/nothing-here`);
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ success: false, errorDetails: [{ code: "ROUTE_NOT_FOUND" }] });
  });

  it("gives the page the dev project and key", async () => {
    const reply = await fetch(`${gateway.url}/api/dev-session`);
    expect(await reply.json()).toMatchObject({ success: true, result: { projectId: "demo", apiKey: gateway.apiKey } });
  });
});
