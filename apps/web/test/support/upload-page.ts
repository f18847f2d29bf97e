import type { Locator, Page, Route } from "playwright-core";

/** The embedded store's part URLs: `/storage/uploads/<uploadId>/parts/<partNumber>?…`. */
const PART_URL = /\/storage\/uploads\/[^/?]+\/parts\/(\d+)(\?|$)/;

export function partNumberOf(url: string): number | undefined {
  const match = PART_URL.exec(url);
  return match ? Number(match[1]) : undefined;
}

/** Opens the page and waits until it is ready to take files (in dev mode: without typing anything). */
export async function openUploadPage(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel("Choose files to upload").waitFor({ state: "attached" });
}

export async function chooseFiles(page: Page, ...paths: string[]): Promise<void> {
  await page.getByLabel("Choose files to upload").setInputFiles(paths);
}

export function uploadCard(page: Page, fileName: string): Locator {
  return page.locator(`article.upload-card[aria-label="${fileName}"]`);
}

/** Waits until the file's upload has ended, however it ended, and says how: the status shown and any error. */
export async function endOfUpload(
  page: Page,
  fileName: string,
): Promise<{ status: string; label: string; error: string | null }> {
  const card = uploadCard(page, fileName);
  await card.and(page.locator("[data-status=completed], [data-status=failed], [data-status=cancelled]")).waitFor();
  const error = card.locator(".error");
  return {
    status: (await card.getAttribute("data-status")) ?? "",
    label: await card.locator(".pill").innerText(),
    error: (await error.count()) > 0 ? await error.innerText() : null,
  };
}

/** Waits until the page shows these parts of the file as `state`. */
export async function waitForParts(page: Page, fileName: string, partNumbers: number[], state: string): Promise<void> {
  for (const n of partNumbers) {
    await uploadCard(page, fileName).locator(`[data-part="${n}"][data-state="${state}"]`).waitFor();
  }
}

/**
 * Holds back the part PUTs that `hold` picks (they stay pending, as on a very slow link), so that a test can act
 * "mid-way" at a known point instead of racing a timer. `release()` lets new requests through.
 */
export async function holdParts(
  page: Page,
  hold: (partNumber: number) => boolean,
): Promise<{ release(): Promise<void> }> {
  const held: Route[] = [];
  const handler = async (route: Route) => {
    const partNumber = partNumberOf(route.request().url());
    if (route.request().method() === "PUT" && partNumber !== undefined && hold(partNumber)) {
      held.push(route);
      return;
    }
    await route.continue();
  };
  await page.route(PART_URL, handler);
  return {
    async release() {
      await page.unroute(PART_URL, handler);
      // Requests held so far were cancelled by the page (pause, cancel, reload); let through any it still waits on.
      for (const route of held.splice(0)) await route.continue().catch(() => undefined);
    },
  };
}

/** Records the part numbers of every part PUT the page sends from now on. */
export function recordPartRequests(page: Page): number[] {
  const parts: number[] = [];
  page.on("request", (request) => {
    const partNumber = partNumberOf(request.url());
    if (request.method() === "PUT" && partNumber !== undefined) parts.push(partNumber);
  });
  return parts;
}
