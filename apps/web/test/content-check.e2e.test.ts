import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { UploadGatewayError } from "@upload-gateway/client";
import { useDemoPage } from "./support/demo-page";
import { chooseFiles, endOfUpload, openUploadPage, uploadCard } from "./support/upload-page";

/**
 * The demo page with the gateway's own content check (issue 20), end to end: a real MP4 made with ffmpeg shows what
 * the gateway found in it, and an HTML page named `.mp4` (so the browser declares `video/mp4`) is rejected with its
 * reason in plain words and cannot be downloaded. (content-check-page.e2e.test.ts tests the page against the
 * gateway's answers alone.)
 */

const demo = useDemoPage();
const { files } = demo;

/** Three seconds of 320×240 H.264 video at 25 fps with AAC sound, the index (`moov`) at the end as ffmpeg writes it. */
function makeMp4(name: string): string {
  const path = files.pathOf(name);
  execFileSync("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-y"],
    ...["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=3"],
    ...["-f", "lavfi", "-i", "sine=frequency=440:duration=3"],
    ...["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", path],
  ]);
  return path;
}

describe("the upload page with the gateway's content check", () => {
  it("shows a real video's duration, resolution and codecs, as the gateway found them", async () => {
    const { page } = demo.browser;
    const path = makeMp4("real-clip.mp4");
    await openUploadPage(page, demo.gateway.url);
    await chooseFiles(page, path);

    expect(await endOfUpload(page, "real-clip.mp4")).toEqual({ status: "completed", label: "Completed", error: null });
    const card = uploadCard(page, "real-clip.mp4");
    expect(await card.getByRole("term").allInnerTexts()).toEqual(["Type", "Duration", "Resolution", "Codecs"]);
    expect(await card.getByRole("definition").allInnerTexts()).toEqual(["video/mp4", "0:03", "320×240", "h264/aac"]);
    const row = page.locator(".recent-row[data-state=completed]", { hasText: "real-clip.mp4" });
    await row.locator(".recent-facts").waitFor();
    expect(await row.locator(".recent-facts").innerText()).toBe("video/mp4, 0:03, 320×240, h264/aac");
  });

  it("rejects an HTML page declared video/mp4 with its reason in plain words; nothing of it is downloadable", async () => {
    const { page } = demo.browser;
    const path = files.pathOf("page.mp4");
    writeFileSync(
      path,
      "<!doctype html><html><head><title>x</title></head><body><script>alert(1)</script></body></html>",
    );
    await openUploadPage(page, demo.gateway.url);
    await chooseFiles(page, path);

    const end = await endOfUpload(page, "page.mp4");
    expect(end).toMatchObject({ status: "failed", label: "Rejected" });
    expect(end.error).toMatch(/^Rejected by the gateway's content check: declared video\/mp4, found an HTML page/);
    expect(
      await uploadCard(page, "page.mp4")
        .getByRole("button", { name: /Try again|Continue/ })
        .count(),
    ).toBe(0);

    const row = page.locator(".recent-row[data-state=rejected]", { hasText: "page.mp4" });
    await row.waitFor();
    expect(await row.locator(".pill").innerText()).toBe("Rejected");
    expect(await row.locator(".recent-reason").innerText()).toMatch(/^declared video\/mp4, found an HTML page/);
    expect(await row.getByRole("link", { name: "Download" }).count()).toBe(0);

    const { uploads } = await demo.gateway.api.list(demo.gateway.projectId, { limit: 100 });
    const upload = uploads.find((u) => u.fileName === "page.mp4")!;
    expect(upload).toMatchObject({
      state: "rejected",
      verification: { state: "failed", detectedMimeType: "text/html" },
    });
    const refusal = await demo.gateway.api
      .downloadUrl(demo.gateway.projectId, upload.requestKey)
      .catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(UploadGatewayError);
    expect((refusal as UploadGatewayError).codes).toEqual(["CONTENT_REJECTED"]);
  });
});
