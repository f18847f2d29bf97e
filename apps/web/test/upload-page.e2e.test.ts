import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatBytes } from "../src/format";
import { freePort } from "@upload-gateway/server/testing";
import { startDemoGateway } from "./support/demo-gateway";
import { useDemoPage } from "./support/demo-page";
import { startPathProxy } from "./support/path-proxy";
import { MiB, sha256 } from "./support/test-files";
import {
  chooseFiles,
  endOfUpload,
  holdParts,
  openUploadPage,
  partNumberOf,
  recordPartRequests,
  uploadCard,
  waitForParts,
} from "./support/upload-page";

/**
 * The demo page in Chromium against the built server in dev mode, as a visitor uses it after `pnpm start`: nothing
 * typed, files chosen with the picker. A 24 MiB file goes up in 5 parts of 5 MiB (the last one 4 MiB).
 */

const demo = useDemoPage();
const { files } = demo;

async function uploadOf(fileName: string) {
  const { uploads } = await demo.gateway.api.list(demo.gateway.projectId, { limit: 100 });
  const upload = uploads.find((u) => u.fileName === fileName);
  if (!upload) throw new Error(`the gateway has no upload of ${fileName}`);
  return demo.gateway.api.get(demo.gateway.projectId, upload.requestKey);
}

describe("the upload page", () => {
  it("uploads a 24 MiB file chosen with the picker, shows Completed, and downloads the same bytes through its link", async () => {
    const { page } = demo.browser;
    const file = files.make("holiday-24mib.mp4", 24 * MiB);
    await openUploadPage(page, demo.gateway.url);
    await chooseFiles(page, file.path);

    const end = await endOfUpload(page, file.name);
    expect(end).toEqual({ status: "completed", label: "Completed", error: null });
    await waitForParts(page, file.name, [1, 2, 3, 4, 5], "done");
    expect(await uploadCard(page, file.name).getByRole("progressbar").getAttribute("aria-valuenow")).toBe("100");

    const row = page.locator(".recent-row[data-state=completed]", { hasText: file.name });
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      row.getByRole("link", { name: "Download" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(file.name);
    const bytes = readFileSync(await download.path());
    expect(bytes.length).toBe(file.size);
    expect(sha256(bytes)).toBe(file.sha256);
  });

  it("shows the share of bytes the store acknowledged, not of bytes sent: parts whose replies are held do not count", async () => {
    // Through a proxy that passes part bodies on whole and holds the store's replies from part 3 on: the page has sent
    // those bytes (its upload progress says so), and nothing has acknowledged them.
    const proxy = await startPathProxy("/media");
    const port = await freePort();
    const gateway = await startDemoGateway(undefined, { PORT: String(port), PUBLIC_URL: `${proxy.origin}/media` });
    proxy.target = `http://127.0.0.1:${port}`;
    try {
      const { page } = demo.browser;
      const file = files.make("acknowledged-48mib.mp4", 48 * MiB);
      proxy.holdReplies = (method, path) => method === "PUT" && (partNumberOf(path) ?? 0) >= 3;
      await openUploadPage(page, `${proxy.origin}/media/`);
      await chooseFiles(page, file.path);
      // 10 parts of 5 MiB (the last 3 MiB), 4 at a time: parts 1 and 2 are stored and acknowledged; 3 to 6 stored.
      await waitForParts(page, file.name, [1, 2], "done");
      await expect.poll(() => proxy.answered.length, { timeout: 60_000 }).toBe(4);
      const card = uploadCard(page, file.name);
      // The page has heard of 10 of 48 MiB: 20%, whatever its sockets took.
      expect(await card.locator(".percent").innerText()).toBe("20%");
      expect(await card.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("20");
      expect(await card.locator(".upload-card-title p").innerText()).toMatch(
        new RegExp(`^${formatBytes(10 * MiB)} of `),
      );
      proxy.release();
      expect((await endOfUpload(page, file.name)).status).toBe("completed");
      expect(await card.locator(".percent").innerText()).toBe("100%");
    } finally {
      proxy.release();
      await Promise.all([gateway.close(), proxy.close()]);
    }
  });

  it("queues several files and uploads them all", async () => {
    const { page } = demo.browser;
    const batch = [
      files.make("a-6mib.bin", 6 * MiB),
      files.make("b-1kib.txt", 1024),
      files.make("c-11mib.bin", 11 * MiB),
    ];
    await openUploadPage(page, demo.gateway.url);
    await chooseFiles(page, ...batch.map((f) => f.path));
    for (const file of batch) {
      expect((await endOfUpload(page, file.name)).status).toBe("completed");
      expect((await uploadOf(file.name)).state).toBe("completed");
    }
  });

  it("cancel mid-way stops the upload and aborts it on the gateway", async () => {
    const { page } = demo.browser;
    const file = files.make("cancel-me-24mib.mp4", 24 * MiB);
    await holdParts(page, (part) => part >= 3);
    await openUploadPage(page, demo.gateway.url);
    await chooseFiles(page, file.path);
    await waitForParts(page, file.name, [1, 2], "done");
    expect((await uploadOf(file.name)).uploadedParts.map((p) => p.partNumber)).toEqual([1, 2]);

    await uploadCard(page, file.name).getByRole("button", { name: "Cancel" }).click();
    expect(await endOfUpload(page, file.name)).toEqual({ status: "cancelled", label: "Cancelled", error: null });
    const upload = await uploadOf(file.name);
    expect(upload.state).toBe("aborted");
    expect(upload.uploadedParts).toEqual([]);
  });

  it("pause lets the parts in flight finish and starts no other; after resume every part has been PUT exactly once", async () => {
    const { page } = demo.browser;
    const file = files.make("pause-40mib.mp4", 40 * MiB);
    const sent = recordPartRequests(page);
    const held = await holdParts(page, (part) => part >= 3);
    await openUploadPage(page, demo.gateway.url);
    await chooseFiles(page, file.path);
    await waitForParts(page, file.name, [1, 2], "done");
    await waitForParts(page, file.name, [3, 4, 5, 6], "sending"); // four at once: 3-6 in flight, 7 and 8 waiting

    const card = uploadCard(page, file.name);
    await card.getByRole("button", { name: "Pause" }).click();
    await card.and(page.locator("[data-status=paused]")).waitFor();
    expect(await card.locator(".pill").innerText()).toBe("Paused");
    await held.release();
    await waitForParts(page, file.name, [3, 4, 5, 6], "done"); // finished while paused
    await page.waitForTimeout(300);
    await waitForParts(page, file.name, [7, 8], "waiting");
    expect([...sent].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await card.getAttribute("data-status")).toBe("paused");

    await card.getByRole("button", { name: "Resume" }).click();
    expect((await endOfUpload(page, file.name)).status).toBe("completed");
    expect([...sent].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect((await uploadOf(file.name)).state).toBe("completed");
  });

  it("after a reload mid-way, offers to continue; the same file sends only the missing parts", async () => {
    const { page } = demo.browser;
    const file = files.make("reload-24mib.mp4", 24 * MiB);
    const other = files.make("not-it.bin", 6 * MiB);
    const held = await holdParts(page, (part) => part >= 3);
    await openUploadPage(page, demo.gateway.url);
    await chooseFiles(page, file.path);
    await waitForParts(page, file.name, [1, 2], "done");

    await page.reload();
    await held.release();
    const sent = recordPartRequests(page);
    const offer = page.getByRole("article", { name: `Interrupted: ${file.name}` });
    await offer.getByText("2 of 5 parts stored (41%)").waitFor();

    // A different file is refused with a sentence, and nothing is sent.
    await offer.getByLabel(`Choose ${file.name} again to continue`).setInputFiles(other.path);
    await offer.getByRole("alert").waitFor();
    expect(await offer.getByRole("alert").innerText()).toMatch(
      /^That is not the same file: “not-it\.bin” \(6\.0 MiB\) was chosen/,
    );

    await offer.getByLabel(`Choose ${file.name} again to continue`).setInputFiles(file.path);
    expect((await endOfUpload(page, file.name)).status).toBe("completed");
    expect(await uploadCard(page, file.name).locator(".muted").first().innerText()).toContain(
      "continued: 3 of 5 parts sent now",
    );
    expect([...sent].sort()).toEqual([3, 4, 5]);
    const upload = await uploadOf(file.name);
    expect(upload.state).toBe("completed");
    const link = await demo.gateway.api.downloadUrl(demo.gateway.projectId, upload.requestKey);
    expect(sha256(new Uint8Array(await (await fetch(link.downloadPath)).arrayBuffer()))).toBe(file.sha256);
    expect(await offer.count()).toBe(0);
  });

  it("refuses an empty file with a sentence, not a stack trace", async () => {
    const { page } = demo.browser;
    const empty = files.make("empty.txt", 0);
    await openUploadPage(page, demo.gateway.url);
    await chooseFiles(page, empty.path);
    expect(await endOfUpload(page, empty.name)).toEqual({
      status: "failed",
      label: "Failed",
      error: "“empty.txt” is empty: there is nothing to upload.",
    });
  });
});
