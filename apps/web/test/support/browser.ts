import { chromium, type Browser as ChromiumBrowser, type BrowserContext, type Page } from "playwright-core";
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
 * One Chromium for the whole suite: its files run one after another in one worker that keeps its modules
 * (vitest.config.ts), and the first `openBrowser` launches it. A Chromium per file cost the suite ~20 s of CPU more (each
 * launch, and a fresh worker per file); one per test, more again. Isolation comes from the contexts, which share no
 * cookies, storage or cache (each is an incognito profile of its own), and a file's contexts are closed after it
 * (`closeContextsOfFile`, browser.setup.ts), so no page of one file keeps working during the next. Chromium ends with
 * the worker: Playwright's pipe to it closes, and it exits.
 */
let chromiumOfSuite: Promise<ChromiumBrowser> | undefined;

function launchedChromium(): Promise<ChromiumBrowser> {
  chromiumOfSuite ??= chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS }).then((browser) => {
    // A crashed Chromium is launched again by the next test, not handed to every test after it.
    browser.once("disconnected", () => (chromiumOfSuite = undefined));
    return browser;
  });
  return chromiumOfSuite;
}

/**
 * Closes the contexts the file's tests left open (a test that failed before its own close): after a file, every
 * context of the suite's Chromium is one of its own, the files running one after another.
 */
export async function closeContextsOfFile(): Promise<void> {
  const browser = await chromiumOfSuite?.catch(() => undefined);
  await Promise.all((browser?.contexts() ?? []).map((context) => context.close().catch(() => undefined)));
}

/** A fresh browser context (no storage shared with any other test's) in the suite's Chromium, and one page. */
export async function openBrowser(
  viewport = { width: 1280, height: 900 },
  options: { bypassCSP?: boolean } = {},
): Promise<Browser> {
  const context = await (
    await launchedChromium()
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
