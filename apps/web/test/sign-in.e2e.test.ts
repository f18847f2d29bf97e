import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { useDemoPage } from "./support/demo-page";
import { MiB } from "./support/test-files";
import { chooseFiles, endOfUpload } from "./support/upload-page";

/** Outside dev mode (a projects file), the gateway gives no key away: the page asks once per tab. */

const demo = useDemoPage({ project: { id: "films", apiKey: `key_${randomBytes(16).toString("hex")}` } });
const { files } = demo;

describe("signing in outside dev mode", () => {
  it("asks for the project and key, says what is wrong in the gateway's words, and keeps them for the tab", async () => {
    const { page } = demo.browser;
    await page.goto(demo.gateway.url);
    const form = page.locator("form", { hasText: "Connect to a project" });
    await form.waitFor();

    await form.getByLabel("Project").fill("films");
    await form.getByLabel("API key").fill("not-the-key");
    await form.getByRole("button", { name: "Connect" }).click();
    await form.getByRole("alert").waitFor();
    expect(await form.getByRole("alert").innerText()).toBe("A valid API key is required.");

    await form.getByLabel("Project").fill("no-such-project");
    await form.getByLabel("API key").fill(demo.gateway.apiKey);
    await form.getByRole("button", { name: "Connect" }).click();
    await form
      .getByRole("alert")
      .getByText(/project/)
      .waitFor();
    expect(await form.getByRole("alert").innerText()).toBe('projectId: no project "no-such-project".');

    await form.getByLabel("Project").fill("films");
    await form.getByRole("button", { name: "Connect" }).click();
    await page.getByLabel("Choose files to upload").waitFor({ state: "attached" });
    expect(await page.locator(".project-chip").innerText()).toContain("films");

    await page.reload();
    await page.getByLabel("Choose files to upload").waitFor({ state: "attached" });
    expect(await form.count()).toBe(0);

    const file = files.make("trailer.mp4", 6 * MiB);
    await chooseFiles(page, file.path);
    expect((await endOfUpload(page, file.name)).status).toBe("completed");
  });
});
