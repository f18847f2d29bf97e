import { chromium, type Browser as ChromiumBrowser, type BrowserContext, type Page } from "playwright-core";
import { afterAll } from "vitest";
import { CHROMIUM } from "./chromium-global-setup";

/**
 * The features Playwright 1.65 disables itself. Chromium takes the last `--disable-features` only, so ours below
 * repeats them (browser-flags.e2e.test.ts checks that none of the switches is lost, should Playwright change its list).
 */
export const PLAYWRIGHT_DISABLED_FEATURES = [
  "AvoidUnnecessaryBeforeUnloadCheckSync",
  "DestroyProfileOnBrowserClose",
  "HttpsUpgrades",
  "HttpsFirstBalancedModeAutoEnable",
  "LensOverlay",
  "MediaRouter",
  "PaintHolding",
  "ThirdPartyStoragePartitioning",
  "AvoidCorsURLLoaderRestartOnRedirect",
  "TcpPortRandomizationWin",
  "OptimizationHints",
  "NetworkTimeServiceQuerying",
  "AimEnabled",
  "PreconnectToSearch",
  "msForceBrowserSignIn",
  "msEdgeUpdateLaunchServicesPreferredVersion",
];

/**
 * Headless Chromium 156 still preloads the address bar's popup (two WebUI pages, chrome://omnibox-popup.top-chrome)
 * for each window, that is for each test's context: a third of the browser's CPU in the upload page's tests.
 */
export const OMNIBOX_POPUP_FEATURES = ["WebUIOmniboxPopup", "WebUIOmniboxAimPopup"];

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
  `--disable-features=${[...PLAYWRIGHT_DISABLED_FEATURES, ...OMNIBOX_POPUP_FEATURES].join(",")}`,
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/**
 * One Chromium for the test file, launched by its first `openBrowser` and closed after its last test, rather than one
 * per test (the suite alone: 150 -> 140 s of CPU on a two-core machine). Isolation comes from the contexts, which share
 * no cookies, storage or cache (each is an incognito profile of its own).
 */
let chromiumOfFile: Promise<ChromiumBrowser> | undefined;
afterAll(async () => {
  const launched = chromiumOfFile;
  chromiumOfFile = undefined;
  await (await launched?.catch(() => undefined))?.close();
});

/** A fresh browser context (no storage shared with any other test's) in the file's Chromium, and one page. */
export async function openBrowser(
  viewport = { width: 1280, height: 900 },
  options: { bypassCSP?: boolean } = {},
): Promise<Browser> {
  chromiumOfFile ??= chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  const context = await (
    await chromiumOfFile
  ).newContext({
    viewport,
    acceptDownloads: true,
    // Tests that inject tooling into the page (axe-core) need it past the gateway's strict CSP; others keep the CSP.
    bypassCSP: options.bypassCSP ?? false,
  });
  const page = await context.newPage();
  // Reloading mid-upload asks "Leave site?" (the page warns before interrupting uploads): say yes, as a user would.
  page.on("dialog", (dialog) => void dialog.accept());
  return { context, page, close: () => context.close() };
}
