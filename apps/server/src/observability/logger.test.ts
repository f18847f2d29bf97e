import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/app-config";
import { createLogger } from "./logger";

/** The logger's own scrubbing: the backstop for any line whose writer forgot to scrub what it names. */
describe("createLogger", () => {
  function capture() {
    const lines: string[] = [];
    const logger = createLogger(loadConfig({ LOG_LEVEL: "info" }), {
      destination: { write: (line: string) => void lines.push(line) },
    });
    return { logger, text: () => lines.join("") };
  }

  it("scrubs userinfo, secret query parameters and bearer tokens from a message", () => {
    const { logger, text } = capture();
    logger.warn(
      "Could not reach https://hook-user:s3cr3t@hooks.example/in?Token=tok-9f8e7d&x=1 with Bearer abc.def.ghi",
    );
    expect(text()).toContain("https://[REDACTED]@hooks.example/in?Token=[REDACTED]&x=1 with Bearer [REDACTED]");
    expect(text()).not.toMatch(/s3cr3t|tok-9f8e7d|abc\.def\.ghi/);
  });

  it("scrubs an error's message and its cause", () => {
    const { logger, text } = capture();
    const cause = new Error("GET https://bucket.s3.example/k?X-Amz-Signature=deadbeef01 failed");
    logger.error({ err: new Error("upload failed: https://u:pw@store.example/x", { cause }) }, "a store call failed");
    expect(text()).toContain("[REDACTED]");
    expect(text()).not.toMatch(/deadbeef01|u:pw@/);
  });
});
