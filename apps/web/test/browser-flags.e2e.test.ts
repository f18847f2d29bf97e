import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OMNIBOX_POPUP_FEATURES, openBrowser, type Browser } from "./support/browser";

/**
 * The Chromium the other files drive: our `--disable-features` replaces Playwright's (Chromium keeps the last one), so
 * it must still hold every feature Playwright's own switch turns off, and the omnibox popup it is there for is gone.
 */
let browser: Browser;
beforeAll(async () => {
  browser = await openBrowser();
});
afterAll(async () => {
  await browser?.close();
});

/** The features named by each `--disable-features` switch of `commandLine`. */
function switchedOff(commandLine: string): string[] {
  return [...commandLine.matchAll(/--disable-features="?([^\s"]+)"?/g)].flatMap((match) => match[1]!.split(","));
}

describe("the tests' Chromium", () => {
  it("keeps every feature Playwright disables disabled, and the omnibox popup's too", async () => {
    await browser.page.goto("chrome://version/?show-variations-cmd");
    const rows = (await browser.page.locator("body").innerText()).split("\n");
    const row = (name: string) => rows.find((line) => line.startsWith(`${name}\t`)) ?? "";
    // Every switch as given (the Debian wrapper's, Playwright's, ours), and the features Chromium took from them.
    const asked = new Set(switchedOff(row("Command Line")));
    const inEffect = new Set(switchedOff(row("Command-line Variations")));
    expect(asked.size).toBeGreaterThan(OMNIBOX_POPUP_FEATURES.length);
    expect([...asked].filter((feature) => !inEffect.has(feature))).toEqual([]);
    for (const feature of OMNIBOX_POPUP_FEATURES) expect(inEffect).toContain(feature);
  });

  it("opens no address-bar popup page beside the test's own", async () => {
    const session = await browser.context.browser()!.newBrowserCDPSession();
    const { targetInfos } = await session.send("Target.getTargets");
    await session.detach();
    expect(targetInfos.filter((target) => target.url.startsWith("chrome://omnibox"))).toEqual([]);
    expect(targetInfos.filter((target) => target.type === "page")).not.toEqual([]);
  });
});
