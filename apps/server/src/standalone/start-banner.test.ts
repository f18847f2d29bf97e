import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/app-config";
import { startBanner } from "./start-banner";

describe("startBanner", () => {
  it("says when upload tokens are off and how to turn them on, on the terminal and in the log line", () => {
    const config = loadConfig({ STORAGE: "s3", S3_BUCKET: "media", PORT: "4000", PROJECTS_FILE: "/etc/projects.json" });
    const banner = startBanner(config, null, false);
    expect(banner.message).toBe("Upload Gateway is running at http://127.0.0.1:4000/");
    expect(banner.text).toMatch(/upload tokens: off: set UPLOAD_TOKEN_KEYS=kid:secret/);
    expect(banner.fields).toMatchObject({
      storage: "S3 bucket media",
      uploadTokens: expect.stringContaining("UPLOAD_TOKEN_KEYS"),
    });
  });

  it("shows the dev key on the terminal only, never among the log fields", () => {
    const config = loadConfig({ LOCAL_STORAGE_DIR: "/tmp/data" });
    const banner = startBanner(config, { projectId: "demo", apiKey: "dev_secret-key-0123456789" }, true);
    expect(banner.text).toContain("API key:  dev_secret-key-0123456789");
    expect(banner.text).not.toContain("upload tokens");
    expect(banner.fields).toMatchObject({ uploadTokens: "on", devProject: "demo" });
    expect(JSON.stringify(banner.fields)).not.toContain("dev_secret-key");
  });
});
