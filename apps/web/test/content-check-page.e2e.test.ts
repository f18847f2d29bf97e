import type { Page, Route } from "playwright-core";
import { describe, expect, it } from "vitest";
import type { Verification } from "@upload-gateway/client";
import { errorEnvelope, VERIFICATION_EXAMPLES } from "@upload-gateway/contract";
import { axeViolations } from "./support/axe-violations";
import { useDemoPage } from "./support/demo-page";
import { MiB } from "./support/test-files";
import { chooseFiles, endOfUpload, openUploadPage, uploadCard } from "./support/upload-page";

/**
 * What the page shows of the gateway's content check, against its answers as the contract specifies them: the demo
 * gateway does the uploads, and the replies of `success`, the upload's status and the list are given the check's
 * findings on their way to the page (the gateway that checks content is tested with it: content-check.e2e.test.ts).
 */

// axe-core is added to the page, past the gateway's strict CSP.
const demo = useDemoPage({ browser: { bypassCSP: true } });
const { files } = demo;

const PASSED: Verification = VERIFICATION_EXAMPLES.passed;
const FAILED: Verification = VERIFICATION_EXAMPLES.failed;
const REFUSAL = "The stored file failed the content check: declared video/mp4, found an HTML page (text/html).";

const SUCCESS = /\/api\/projects\/[^/]+\/uploads\/success\/[^/?]+$/;
const LIST = /\/api\/projects\/[^/]+\/uploads(\?.*)?$/;
const STATUS = /\/api\/projects\/[^/]+\/uploads\/[^/?]+$/;

interface Summary {
  fileName: string;
  state: string;
  verification?: Verification;
}

/** Gives the list's entries of `fileName` the check's outcome (and `state`), on their way to the page. */
async function checkedInList(page: Page, fileName: string, verification: Verification, state?: string) {
  await page.route(LIST, async (route: Route) => {
    if (route.request().method() !== "GET") return route.fallback();
    const response = await route.fetch();
    const body = (await response.json()) as { result: { uploads: Summary[] } };
    for (const upload of body.result.uploads) {
      if (upload.fileName === fileName) Object.assign(upload, { verification }, state ? { state } : {});
    }
    await route.fulfill({ response, json: body });
  });
}

describe("the upload page and the gateway's content check", () => {
  it("shows a finished video's duration, resolution and codecs, on its card and in the recent uploads", async () => {
    const { page } = demo.browser;
    const file = files.make("clip-6mib.mp4", 6 * MiB); // two parts: complete, then `success` for the verdict
    const asked: string[] = [];
    await page.route(SUCCESS, async (route) => {
      asked.push(route.request().url());
      const response = await route.fetch();
      const body = (await response.json()) as { result: Record<string, unknown> };
      await route.fulfill({ response, json: { ...body, result: { ...body.result, verification: PASSED } } });
    });
    await checkedInList(page, file.name, PASSED);
    await openUploadPage(page, demo.gateway.url);
    await chooseFiles(page, file.path);

    expect(await endOfUpload(page, file.name)).toEqual({ status: "completed", label: "Completed", error: null });
    expect(asked).toHaveLength(1);
    const facts = uploadCard(page, file.name).getByRole("definition");
    expect(await facts.allInnerTexts()).toEqual(["video/mp4", "8:34", "1920×1080", "h264/aac"]);
    const terms = uploadCard(page, file.name).getByRole("term");
    expect(await terms.allInnerTexts()).toEqual(["Type", "Duration", "Resolution", "Codecs"]);

    const row = page.locator(".recent-row[data-state=completed]", { hasText: file.name });
    await row.locator(".recent-facts").waitFor();
    expect(await row.locator(".recent-facts").innerText()).toBe("video/mp4, 8:34, 1920×1080, h264/aac");
    expect(await axeViolations(page), "verified").toEqual([]);
  });

  it("shows a rejected file's reason in plain words, offers no retry, and lists it as Rejected", async () => {
    const { page } = demo.browser;
    const file = files.make("page.mp4", 2048); // one PUT: its `success` completes it, and is refused
    await page.route(SUCCESS, (route) =>
      route.fulfill({ status: 422, json: errorEnvelope([{ code: "CONTENT_REJECTED", message: REFUSAL }]) }),
    );
    // The upload's status, read once by the client for the check's findings.
    await page.route(STATUS, async (route) => {
      if (route.request().method() !== "GET") return route.fallback();
      const response = await route.fetch();
      const body = (await response.json()) as { result: Summary };
      const result = { ...body.result, state: "rejected", verification: FAILED };
      await route.fulfill({ response, json: { ...body, result } });
    });
    await checkedInList(page, file.name, FAILED, "rejected");
    await openUploadPage(page, demo.gateway.url);
    await chooseFiles(page, file.path);

    expect(await endOfUpload(page, file.name)).toEqual({
      status: "failed",
      label: "Rejected",
      error: "Rejected by the gateway's content check: declared video/mp4, found an HTML page (text/html).",
    });
    const card = uploadCard(page, file.name);
    expect(await card.getByRole("button").allInnerTexts()).toEqual([""]); // Remove only: no Try again, no Continue
    expect(await card.getByRole("button").getAttribute("aria-label")).toBe(`Remove ${file.name} from the list`);
    expect(await card.getByRole("definition").count()).toBe(0);
    expect(await page.getByTestId("upload-announcer").innerText()).toBe(
      `${file.name} was rejected: declared video/mp4, found an HTML page (text/html)`,
    );

    const row = page.locator(".recent-row[data-state=rejected]", { hasText: file.name });
    await row.waitFor();
    expect(await row.locator(".pill").innerText()).toBe("Rejected");
    expect(await row.locator(".recent-reason").innerText()).toBe(FAILED.reason);
    expect(await row.getByRole("link", { name: "Download" }).count()).toBe(0);
    expect(await axeViolations(page), "rejected").toEqual([]);
  });
});
