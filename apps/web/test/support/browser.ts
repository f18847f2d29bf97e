import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { CHROMIUM } from "./chromium-global-setup";

// The machine has no network but the loopback: without these, Chromium keeps trying (and failing) to reach Google.
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-quic",
  "--disable-sync",
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** A fresh Chromium with its own empty profile (so no storage is shared between tests), and one page. */
export async function openBrowser(
  viewport = { width: 1280, height: 900 },
  options: { bypassCSP?: boolean } = {},
): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "web-e2e-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport,
    acceptDownloads: true,
    // Tests that inject tooling into the page (axe-core) need it past the gateway's strict CSP; others keep the CSP.
    bypassCSP: options.bypassCSP ?? false,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  // Reloading mid-upload asks "Leave site?" (the page warns before interrupting uploads): say yes, as a user would.
  page.on("dialog", (dialog) => void dialog.accept());
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
