import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_POLICY, parseRetryAfter, retryDelay } from "./retry";

describe("retryDelay", () => {
  it("grows exponentially up to the cap, with full jitter", () => {
    const policy = { retries: 6, baseDelayMs: 100, maxDelayMs: 1000 };
    expect([0, 1, 2, 3, 4, 5].map((a) => retryDelay(policy, a, null, () => 1))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(retryDelay(policy, 3, null, () => 0)).toBe(0);
    expect(retryDelay(policy, 3, null, () => 0.5)).toBe(400);
  });

  it("honours Retry-After, within bounds", () => {
    expect(retryDelay(DEFAULT_RETRY_POLICY, 0, "3")).toBe(3000);
    expect(retryDelay(DEFAULT_RETRY_POLICY, 0, "86400")).toBe(DEFAULT_RETRY_POLICY.maxDelayMs * 3);
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    expect(parseRetryAfter("0")).toBe(0);
    expect(parseRetryAfter(" 12 ")).toBe(12_000);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:05 GMT", now)).toBe(5000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
