import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page, Route } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { axeViolations } from "./support/axe-violations";
import { useDemoPage } from "./support/demo-page";
import { MiB } from "./support/test-files";
import {
  chooseFiles,
  endOfUpload,
  holdParts,
  openUploadPage,
  partNumberOf,
  uploadCard,
  waitForParts,
} from "./support/upload-page";

/**
 * The demo page for people who use a keyboard, a screen reader or a phone: axe-core finds no violation in any state,
 * focus stays on the card's controls, one live region says what happens, targets are big enough to touch, names are
 * readable without a tooltip and the focus ring can be seen.
 */

const SCREENSHOTS = join(import.meta.dirname, "screenshots");
// Tests that inject axe-core need the page past the gateway's strict CSP.
const demo = useDemoPage({ browser: { bypassCSP: true } });
const { files } = demo;

beforeAll(() => {
  mkdirSync(SCREENSHOTS, { recursive: true });
});

/**
 * Contrast of each part square (`selector`) against what is behind it, as WCAG 1.4.11 measures a graphic: its colour
 * (its fill, or its border when it is hollow), faded by its opacity (mid-animation included) over the first opaque
 * background behind it.
 */
function partContrasts(page: Page, selector: string): Promise<{ state: string; ratio: number }[]> {
  return page.evaluate((selector) => {
    const rgba = (color: string) => {
      const [r = 0, g = 0, b = 0, a = 1] = (color.match(/[\d.]+/g) ?? []).map(Number);
      return { r, g, b, a };
    };
    const luminance = ({ r, g, b }: { r: number; g: number; b: number }) => {
      const channel = (c: number) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
      return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    };
    const behind = (element: Element) => {
      for (let at = element.parentElement; at; at = at.parentElement) {
        const color = rgba(getComputedStyle(at).backgroundColor);
        if (color.a === 1) return color;
      }
      return { r: 255, g: 255, b: 255, a: 1 };
    };
    return [...document.querySelectorAll<HTMLElement>(selector)].map((element) => {
      const style = getComputedStyle(element);
      const fill = rgba(style.backgroundColor);
      const color = fill.a > 0 ? fill : rgba(style.borderTopColor);
      const alpha = color.a * Number(style.opacity);
      const back = behind(element);
      const shown = {
        r: color.r * alpha + back.r * (1 - alpha),
        g: color.g * alpha + back.g * (1 - alpha),
        b: color.b * alpha + back.b * (1 - alpha),
      };
      const [light, dark] = [luminance(shown), luminance(back)].sort((x, y) => y - x) as [number, number];
      return {
        state: element.dataset.state ?? element.className,
        ratio: Math.round(((light + 0.05) / (dark + 0.05)) * 100) / 100,
      };
    });
  }, selector);
}

const announced = (page: Page) => page.getByTestId("upload-announcer").innerText();
const focused = (page: Page) =>
  page.evaluate(() => {
    const element = document.activeElement as HTMLElement | null;
    return {
      tag: element?.tagName ?? "",
      text: element?.innerText.trim() ?? "",
      label: element?.getAttribute("aria-label") ?? "",
    };
  });

describe("the demo page's accessibility", () => {
  it("has no axe violation idle, uploading, paused and completed; keyboard focus stays on the card; each step is announced once", async () => {
    const { page } = demo.browser;
    const file = files.make("a11y-24mib.mp4", 24 * MiB);
    await openUploadPage(page, demo.gateway.url);
    expect(await axeViolations(page), "idle").toEqual([]);

    const held = await holdParts(page, (part) => part >= 3);
    await chooseFiles(page, file.path);
    await waitForParts(page, file.name, [1, 2], "done");
    const card = uploadCard(page, file.name);
    expect(await announced(page)).toBe(`Uploading ${file.name}.`);
    // The strip is hidden from assistive technology; the progress bar says it in one value.
    expect(await card.locator(".parts").getAttribute("aria-hidden")).toBe("true");
    expect(await card.getByRole("progressbar").getAttribute("aria-valuetext")).toMatch(
      /^\d+%, 2 of 5 parts stored, uploading$/,
    );
    expect(await page.getByRole("status").count()).toBe(1); // one live region on the page
    expect(await axeViolations(page), "uploading").toEqual([]);

    await card.getByRole("button", { name: "Pause" }).focus();
    await page.keyboard.press("Enter");
    await card.and(page.locator("[data-status=paused]")).waitFor();
    expect(await focused(page)).toMatchObject({ tag: "BUTTON", text: "Resume" });
    expect(await announced(page)).toBe(`Paused ${file.name}.`);
    expect(await axeViolations(page), "paused").toEqual([]);

    await held.release();
    await page.keyboard.press("Enter");
    expect((await endOfUpload(page, file.name)).status).toBe("completed");
    // Resume (then Pause) went away with the upload's end: focus moved to the card's remaining control.
    expect(await focused(page)).toMatchObject({ tag: "BUTTON", label: `Remove ${file.name} from the list` });
    expect(await announced(page)).toBe(`${file.name} uploaded.`);
    await page.locator(".recent-row[data-state=completed]", { hasText: file.name }).waitFor();
    expect(await axeViolations(page), "completed").toEqual([]);

    await page.keyboard.press("Enter");
    await card.waitFor({ state: "detached" });
    expect(await focused(page)).toMatchObject({ tag: "INPUT", label: "Choose files to upload" });
  });

  it("keeps focus on Cancel until it becomes Remove, announces it, and shows Aborted without an axe violation", async () => {
    const { page } = demo.browser;
    const file = files.make("a11y-cancel-24mib.mp4", 24 * MiB);
    await holdParts(page, (part) => part >= 3);
    await openUploadPage(page, demo.gateway.url);
    await chooseFiles(page, file.path);
    await waitForParts(page, file.name, [1, 2], "done");
    await uploadCard(page, file.name).getByRole("button", { name: "Cancel" }).focus();
    await page.keyboard.press("Enter");
    expect((await endOfUpload(page, file.name)).status).toBe("cancelled");
    expect(await focused(page)).toMatchObject({ tag: "BUTTON", label: `Remove ${file.name} from the list` });
    expect(await announced(page)).toBe(`Cancelled ${file.name}.`);
    await page.locator(".recent-row[data-state=aborted]", { hasText: file.name }).waitFor();
    expect(await axeViolations(page), "cancelled, aborted in the list").toEqual([]);
  });

  it("announces a failure with its reason", async () => {
    const { page } = demo.browser;
    const empty = files.make("a11y-empty.txt", 0);
    await openUploadPage(page, demo.gateway.url);
    await chooseFiles(page, empty.path);
    expect((await endOfUpload(page, empty.name)).status).toBe("failed");
    expect(await announced(page)).toBe(`${empty.name} failed: “${empty.name}” is empty: there is nothing to upload.`);
    expect(await axeViolations(page), "failed").toEqual([]);
  });

  it("draws every part state (waiting, sending, retrying, done) and its legend at 3:1 or more against their background", async () => {
    const { page } = demo.browser;
    const file = files.make("contrast-48mib.mp4", 48 * MiB);
    // Part 3's first attempt fails (503, so it is retried), every later attempt of a part from 3 on is held.
    const attempts = new Map<number, number>();
    const held: Route[] = [];
    await page.route(/\/storage\/uploads\//, async (route) => {
      const part = partNumberOf(route.request().url());
      if (route.request().method() !== "PUT" || part === undefined || part < 3) return route.continue();
      attempts.set(part, (attempts.get(part) ?? 0) + 1);
      if (part === 3 && attempts.get(part) === 1) return route.fulfill({ status: 503, body: "busy" });
      held.push(route);
    });
    await openUploadPage(page, demo.gateway.url);
    await chooseFiles(page, file.path);
    await waitForParts(page, file.name, [1, 2], "done");
    await waitForParts(page, file.name, [3], "retrying");
    await waitForParts(page, file.name, [4], "sending");
    await waitForParts(page, file.name, [10], "waiting");

    const squares = await partContrasts(page, `article.upload-card[aria-label="${file.name}"] .part`);
    expect(new Set(squares.map((s) => s.state))).toEqual(new Set(["waiting", "sending", "retrying", "done"]));
    expect(squares.filter((s) => s.ratio < 3)).toEqual([]);
    const legend = await partContrasts(page, ".parts-legend .part");
    expect(legend).toHaveLength(4);
    expect(legend.filter((s) => s.ratio < 3)).toEqual([]);
    expect(await axeViolations(page), "parts in every state").toEqual([]);
  });

  it("on a 390 px phone: every control is at least 44 × 44 px, long names are shown whole, the focus ring stands out", async () => {
    const { page } = await demo.openBrowser({ width: 390, height: 844 }, { bypassCSP: true });
    const long = files.make(`${"a-very-long-file-name-from-a-camera-".repeat(3)}final.mp4`, 6 * MiB);
    const halfway = files.make("phone-halfway-24mib.mp4", 24 * MiB);
    await openUploadPage(page, demo.gateway.url);
    await chooseFiles(page, long.path);
    expect((await endOfUpload(page, long.name)).status).toBe("completed");
    await holdParts(page, (part) => part >= 3);
    await chooseFiles(page, halfway.path);
    await waitForParts(page, halfway.name, [1, 2], "done");
    await page.locator(".recent-row", { hasText: long.name }).getByRole("link", { name: "Download" }).waitFor();

    const small = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>("button, a.button, label.button")]
        .map((element) => ({ element, box: element.getBoundingClientRect() }))
        .filter(({ box }) => box.width > 0 && box.height > 0)
        .filter(({ box }) => box.width < 44 || box.height < 44)
        .map(
          ({ element, box }) =>
            `${element.innerText.trim() || element.getAttribute("aria-label")}: ${Math.round(box.width)} × ${Math.round(box.height)}`,
        ),
    );
    expect(small).toEqual([]);
    for (const name of ["Choose files", "Pause", "Cancel", "Refresh", "Download"]) {
      expect(await page.getByText(name, { exact: true }).first().isVisible(), `${name} is there to measure`).toBe(true);
    }

    // The whole name is on screen: wrapped, not cut (nothing overflows its box), in the card and in the list.
    for (const selector of [`article.upload-card[aria-label="${long.name}"] h3`, ".recent-row .recent-file"]) {
      const shown = await page
        .locator(selector, { hasText: long.name })
        .first()
        .evaluate((element) => ({
          text: (element as HTMLElement).innerText,
          cut: element.scrollWidth > element.clientWidth,
        }));
      expect(shown).toEqual({ text: long.name, cut: false });
    }

    // The focus ring against the card behind it: at least 3:1.
    await uploadCard(page, halfway.name).getByRole("button", { name: "Pause" }).focus();
    await page.keyboard.press("Shift+Tab");
    await page.keyboard.press("Tab");
    const ring = await page.evaluate(() => {
      const element = document.activeElement as HTMLElement;
      const style = getComputedStyle(element);
      const card = getComputedStyle(element.closest("article")!);
      return {
        outline: style.outlineStyle,
        width: parseFloat(style.outlineWidth),
        color: style.outlineColor,
        behind: card.backgroundColor,
      };
    });
    expect(ring.outline).toBe("solid");
    expect(ring.width).toBeGreaterThanOrEqual(2);
    expect(contrast(ring.color, ring.behind)).toBeGreaterThanOrEqual(3);
    await page.screenshot({ path: join(SCREENSHOTS, "a11y-phone.png"), fullPage: true, animations: "disabled" });
  });
});

/** WCAG contrast ratio of two opaque CSS colours (`rgb(r, g, b)`). */
function contrast(a: string, b: string): number {
  const luminance = (css: string) => {
    const [r, g, bl] = (/rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)/.exec(css) ?? []).slice(1, 5).map(Number);
    expect(/rgba\([^)]*, 0?\.\d+\)/.test(css), `${css} is opaque`).toBe(false);
    const linear = (c: number) => (c / 255 <= 0.03928 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
    return 0.2126 * linear(r!) + 0.7152 * linear(g!) + 0.0722 * linear(bl!);
  };
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (light! + 0.05) / (dark! + 0.05);
}
