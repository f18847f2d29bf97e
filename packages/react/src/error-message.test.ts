import {
  CorsRefusedError,
  NetworkError,
  UploadAbortedError,
  UploadFailedError,
  UploadGatewayError,
} from "@upload-gateway/client";
import { describe, expect, it, vi } from "vitest";
import { errorMessage } from "./error-message";

describe("errorMessage", () => {
  it("reads the envelope's sentences", () => {
    const error = new UploadGatewayError(401, {
      success: false,
      errors: ["A valid API key is required."],
      errorDetails: [{ code: "UNAUTHORIZED", message: "A valid API key is required.", retryable: false }],
    });
    expect(errorMessage(error)).toBe("A valid API key is required.");
  });

  it("turns field errors into sentences", () => {
    const error = new UploadGatewayError(400, {
      errors: ["fileName: must not be empty", "partsNumber: must be from 1 to 10000"],
    });
    expect(errorMessage(error)).toBe("fileName: must not be empty. partsNumber: must be from 1 to 10000.");
  });

  it("keeps the uploader's own sentences", () => {
    const error = new UploadFailedError(
      "This file has 3 bytes but upload k is for 5: pick the same file to resume.",
      "k",
    );
    expect(errorMessage(error)).toBe("This file has 3 bytes but upload k is for 5: pick the same file to resume.");
  });

  it("says what happened for a cancel or a lost connection", () => {
    expect(errorMessage(new UploadAbortedError("k"))).toBe("The upload was cancelled.");
    expect(errorMessage(new NetworkError("No answer from http://x: fetch failed"))).toMatch(/could not be reached/);
    expect(errorMessage(new TypeError("Failed to fetch"))).toMatch(/could not be reached/);
  });

  it("names the page's origin and the setting to change when the gateway's CORS refuses the page", () => {
    const message = errorMessage(new CorsRefusedError("https://app.example", "https://gw.example"));
    expect(message).toContain("https://app.example");
    expect(message).toMatch(/CORS_ORIGINS/);
  });

  it("never shows a bug's message or stack", () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const bug = new Error("Cannot read properties of undefined (reading 'x')");
    expect(errorMessage(bug)).toBe("Something went wrong in this page. Reload it and try again.");
    expect(log).toHaveBeenCalledWith(bug);
    log.mockRestore();
  });
});
