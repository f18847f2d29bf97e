import { freePort } from "@upload-gateway/server/testing";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openBrowser, type Browser } from "./support/browser";
import { startDemoGateway, type DemoGateway } from "./support/demo-gateway";
import { startPathProxy, type PathProxy } from "./support/path-proxy";
import { testFiles } from "./support/test-files";
import { chooseFiles, endOfUpload, openUploadPage } from "./support/upload-page";

/**
 * The demo page and the docs under their Content-Security-Policy, with no violation and nothing missing: served at the
 * root, and mounted under /media by a path-routing proxy that strips the prefix (PUBLIC_URL names the prefix, so the
 * store's part URLs go through the proxy too).
 */

let direct: DemoGateway;
let proxied: DemoGateway;
let proxy: PathProxy;
let browser: Browser;
const files = testFiles();

beforeAll(async () => {
  proxy = await startPathProxy("/media");
  const port = await freePort();
  [direct, proxied] = await Promise.all([
    startDemoGateway(),
    startDemoGateway(undefined, { PORT: String(port), PUBLIC_URL: `${proxy.origin}/media` }),
  ]);
  proxy.target = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await Promise.all([direct?.close(), proxied?.close(), proxy?.close()]);
  files.clean();
});
beforeEach(async () => {
  browser = await openBrowser();
});
afterEach(async () => {
  await browser?.close();
});

/** Everything that went wrong while the page was open: CSP violations, failed requests, error replies, console errors. */
async function watch(page: Page) {
  const problems: string[] = [];
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
    });
  });
  page.on("console", (message) => {
    if (message.type() === "error" || /Content.Security.Policy|Refused to/i.test(message.text()))
      problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => problems.push(`failed: ${request.url()} (${request.failure()?.errorText})`));
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`${response.status()}: ${response.url()}`);
  });
  return problems;
}

async function checkDemo(base: string) {
  const { page } = browser;
  const problems = await watch(page);
  const requested: string[] = [];
  page.on("request", (request) => requested.push(request.url()));
  await openUploadPage(page, `${base}/`);
  const file = files.make(`policed-${Date.now()}.bin`, 64 * 1024);
  await chooseFiles(page, file.path);
  expect(await endOfUpload(page, file.name)).toMatchObject({ status: "completed", error: null });
  // The page's links lead to the docs next to it.
  expect(
    await page
      .getByRole("link", { name: "API documentation" })
      .first()
      .evaluate((a: HTMLAnchorElement) => a.href),
  ).toBe(`${base}/docs`);
  expect(problems).toEqual([]);
  // Everything the page loaded or called was under its own base (the part URLs included); blob: is the page's own
  // hashing worker.
  expect(requested.filter((url) => !url.startsWith(`${base}/`) && !url.startsWith("blob:"))).toEqual([]);
  expect(requested.some((url) => url.startsWith(`${base}/assets/`))).toBe(true);
}

async function checkDocs(base: string) {
  const { page } = browser;
  const problems = await watch(page);
  const requested: string[] = [];
  page.on("request", (request) => requested.push(request.url()));
  await page.goto(`${base}/docs`);
  // Swagger UI has fetched the document and drawn its operations.
  await page
    .locator(".opblock-summary-path", { hasText: "/api/projects/{projectId}/uploads/multipart" })
    .first()
    .waitFor();
  expect(problems).toEqual([]);
  expect(requested).toContain(`${base}/api/openapi.json`);
  expect(requested.filter((url) => !url.startsWith(`${base}/`) && !url.startsWith("data:"))).toEqual([]);
}

describe("at the root", () => {
  it("the demo page uploads, with no CSP violation and nothing missing", async () => {
    await checkDemo(direct.url);
  });

  it("the docs render the API, with no CSP violation and nothing missing", async () => {
    await checkDocs(direct.url);
  });
});

describe("under /media behind a path-routing proxy", () => {
  it("the demo page loads its files and uploads through the prefix", async () => {
    expect(proxied.url).toBe(`${proxy.origin}/media`);
    await checkDemo(proxied.url);
  });

  it("the docs load their assets and the document through the prefix", async () => {
    await checkDocs(proxied.url);
  });

  it("an app path deeper down still finds the page's files", async () => {
    const { page } = browser;
    const problems = await watch(page);
    await openUploadPage(page, `${proxied.url}/uploads/some/where`);
    expect(problems).toEqual([]);
  });
});
