import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { useDemoPage } from "./support/demo-page";
import { MiB } from "./support/test-files";
import { chooseFiles, endOfUpload, holdParts, openUploadPage, waitForParts } from "./support/upload-page";

/** What a visitor sees: one upload done, one mid-way; on a desktop and on a phone. The screenshots are for people. */

const SCREENSHOTS = join(import.meta.dirname, "screenshots");
const demo = useDemoPage({ browser: false });
const { files } = demo;

beforeAll(() => {
  mkdirSync(SCREENSHOTS, { recursive: true });
});

describe("the page's layout", () => {
  it.each([
    { device: "desktop", viewport: { width: 1280, height: 900 }, screenshot: "demo.png" },
    { device: "phone (390 px wide)", viewport: { width: 390, height: 844 }, screenshot: "demo-phone.png" },
  ])(
    "on a $device: progress, parts and recent uploads fit without sideways scrolling",
    async ({ viewport, screenshot }) => {
      const { page } = await demo.openBrowser(viewport);
      const done = files.make(`interview-take-${viewport.width}.mov`, 7 * MiB);
      const halfway = files.make(`keynote-recording-final-${viewport.width}.mp4`, 48 * MiB);
      await openUploadPage(page, demo.gateway.url);
      await chooseFiles(page, done.path);
      expect((await endOfUpload(page, done.name)).status).toBe("completed");

      await holdParts(page, (part) => part >= 5);
      await chooseFiles(page, halfway.path);
      await waitForParts(page, halfway.name, [1, 2, 3, 4], "done");
      await page.locator(".recent-row", { hasText: halfway.name }).waitFor();

      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(overflow).toBe(0);
      for (const name of ["Pause", "Cancel"]) {
        const box = await page.getByRole("button", { name }).boundingBox();
        expect(box && box.x >= 0 && box.x + box.width <= viewport.width, `${name} is on screen`).toBe(true);
      }
      await page.screenshot({ path: join(SCREENSHOTS, screenshot), fullPage: true, animations: "disabled" });
    },
  );

  it("on phones 320, 360, 375 and 390 px wide: nothing scrolls sideways, the header's project included", async () => {
    const { page } = await demo.openBrowser({ width: 320, height: 700 });
    const halfway = files.make("a-rather-long-name-for-a-phone-recording-final.mp4", 24 * MiB);
    await openUploadPage(page, demo.gateway.url);
    await holdParts(page, (part) => part >= 3);
    await chooseFiles(page, halfway.path);
    await waitForParts(page, halfway.name, [1, 2], "done");
    await page.locator(".recent-row", { hasText: halfway.name }).waitFor();
    const widths = [320, 360, 375, 390];
    const measure = async () => {
      const seen: Record<number, { overflow: number; wider: string[] }> = {};
      for (const width of widths) {
        await page.setViewportSize({ width, height: 700 });
        seen[width] = await page.evaluate(() => ({
          overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          // What sticks out past the right edge, named, so that a failure says where.
          wider: [...document.querySelectorAll<HTMLElement>("body *")]
            .filter((element) => element.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
            .map((element) => `${element.tagName.toLowerCase()}.${element.className}`),
        }));
      }
      return seen;
    };
    const fits = Object.fromEntries(widths.map((width) => [width, { overflow: 0, wider: [] }]));
    expect(await measure()).toEqual(fits);
    await expect(page.locator(".project-chip").isVisible()).resolves.toBe(true);
    // A project id as long as a projects file allows words to be (the dev project's is "demo").
    await page
      .locator(".project-chip strong")
      .evaluate((element) => (element.textContent = "marketing-video-archive-2026-europe"));
    expect(await measure()).toEqual(fits);
  });
});
