import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { NetworkError, UploadFailedError, UploadGatewayError } from "./errors";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retry";
import { formatDuration, RetryBudget, retryingStatus, withRetries, type RetryNotice } from "./retry-budget";

const MINUTE = 60_000;

/** A budget whose jitter always picks the longest delay, and what it told `onRetry`. */
function budgetOf(policy: Partial<RetryPolicy> = {}, signal = new AbortController().signal) {
  const notices: RetryNotice[] = [];
  const budget = new RetryBudget({ ...DEFAULT_RETRY_POLICY, ...policy }, "part 1", {
    signal,
    random: () => 1,
    onRetry: (n) => notices.push(n),
  });
  return { budget, notices };
}

/** Fails `budget` until it gives up; the time it took on the fake clock and the error. */
async function failUntilSpent(budget: RetryBudget): Promise<{ elapsed: number; error: unknown }> {
  const started = Date.now();
  for (;;) {
    const waiting = budget.retryAfterFailure("part 1: connect ECONNREFUSED", { unreachable: "store" }).then(
      () => undefined,
      (error: unknown) => ({ error }),
    );
    await vi.runOnlyPendingTimersAsync(); // the wait, exactly
    const outcome = await waiting;
    if (outcome) return { elapsed: Date.now() - started, error: outcome.error };
  }
}

describe("RetryBudget", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("retries for 10 minutes of failures in a row by default, backing off exponentially up to 30 s", async () => {
    const { budget, notices } = budgetOf();
    const { error } = await failUntilSpent(budget);
    expect(error).toBeInstanceOf(UploadFailedError);
    expect((error as Error).message).toMatch(/^Gave up after \d+ attempts in 10:00: part 1: connect ECONNREFUSED$/);
    const delays = notices.map((n) => n.delayMs);
    expect(delays.slice(0, 7)).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000]);
    expect(Math.max(...delays)).toBe(30_000);
    // The last wait is cut to what is left, so the last attempt is made as the budget ends.
    expect(delays.reduce((a, b) => a + b, 0)).toBe(10 * MINUTE);
    expect(notices.at(-1)).toMatchObject({ what: "part 1", unreachable: "store", leftMs: 0 });
    for (let i = 1; i < notices.length; i++) expect(notices[i]!.leftMs).toBeLessThan(notices[i - 1]!.leftMs);
  });

  it("draws each delay at random up to its cap (full jitter)", async () => {
    const notices: number[] = [];
    const withNotices = new RetryBudget(DEFAULT_RETRY_POLICY, "x", {
      signal: new AbortController().signal,
      random: () => 0.25,
      onRetry: (n) => notices.push(n.delayMs),
    });
    for (let i = 0; i < 8; i++) {
      const waiting = withNotices.retryAfterFailure("no answer");
      await vi.advanceTimersByTimeAsync(30_000);
      await waiting;
    }
    expect(notices).toEqual([125, 250, 500, 1000, 2000, 4000, 7500, 7500]);
    expect(withNotices.failed).toBe(8);
  });

  it("takes the caller's budget, and starts it over after a success", async () => {
    const { budget } = budgetOf({ retryForMs: 2 * MINUTE });
    expect((await failUntilSpent(budget)).elapsed).toBe(2 * MINUTE);
    budget.succeeded();
    expect(budget.failed).toBe(0);
    const again = await failUntilSpent(budget);
    // A full budget again: the failures before the success do not count.
    expect(again.elapsed).toBe(2 * MINUTE);
    expect((again.error as Error).message).toMatch(/in 2:00:/);
  });

  it("honours Retry-After, within what is left of the budget", async () => {
    const { budget, notices } = budgetOf({ retryForMs: 10_000 });
    const first = budget.retryAfterFailure("storage answered 503", { retryAfter: "4" });
    await vi.advanceTimersByTimeAsync(4000);
    await first;
    const second = budget.retryAfterFailure("storage answered 503", { retryAfter: "60" });
    await vi.advanceTimersByTimeAsync(6000);
    await second;
    expect(notices.map((n) => n.delayMs)).toEqual([4000, 6000]);
    await expect(budget.retryAfterFailure("storage answered 503")).rejects.toThrow(/Gave up after 3 attempts in 0:10/);
  });

  it("still gives up after `retries` attempts when a count is set (deprecated)", async () => {
    const { budget } = budgetOf({ retries: 2 });
    for (let i = 0; i < 2; i++) {
      const waiting = budget.retryAfterFailure("part 1: storage answered 500");
      await vi.advanceTimersByTimeAsync(30_000);
      await waiting;
    }
    await expect(budget.retryAfterFailure("part 1: storage answered 500")).rejects.toThrow(
      /^Gave up after 3 attempts: part 1: storage answered 500$/,
    );
  });

  it("waits while the browser is offline, without counting that time, and goes on at its online event", async () => {
    const events = new EventTarget();
    const nav = { onLine: false };
    vi.stubGlobal("navigator", nav);
    vi.stubGlobal("addEventListener", events.addEventListener.bind(events));
    vi.stubGlobal("removeEventListener", events.removeEventListener.bind(events));
    const { budget, notices } = budgetOf({ retryForMs: MINUTE });
    let resumed = false;
    const waiting = budget.retryAfterFailure("part 1: network error").then(() => (resumed = true));
    // An hour offline: far past the budget, and still waiting.
    await vi.advanceTimersByTimeAsync(60 * MINUTE);
    expect(resumed).toBe(false);
    nav.onLine = true;
    events.dispatchEvent(new Event("online"));
    await waiting;
    expect(resumed).toBe(true);
    // The hour offline is not counted: the budget has its minute, less the first delay.
    const next = budget.retryAfterFailure("part 1: network error");
    await vi.advanceTimersByTimeAsync(1000);
    await next;
    expect(notices[1]!.leftMs).toBe(MINUTE - 500 - 1000);
  });

  it("refuses a budget that would never be spent or is negative; an endless one retries on", async () => {
    const signal = new AbortController().signal;
    for (const retryForMs of [Number.NaN, -1]) {
      expect(() => new RetryBudget({ ...DEFAULT_RETRY_POLICY, retryForMs }, "x", { signal })).toThrow(RangeError);
    }
    expect(() => new RetryBudget({ ...DEFAULT_RETRY_POLICY, maxDelayMs: Number.NaN }, "x", { signal })).toThrow(
      /retry.maxDelayMs must be a number/,
    );
    const { budget, notices } = budgetOf({ retryForMs: Number.POSITIVE_INFINITY });
    const waiting = budget.retryAfterFailure("no answer");
    await vi.runOnlyPendingTimersAsync();
    await waiting;
    expect(notices[0]!.leftMs).toBe(Number.POSITIVE_INFINITY);
    expect(retryingStatus({ what: "part 1", unreachable: "store" }, notices[0]!.leftMs)).toBe(
      "store unreachable, retrying",
    );
  });

  it("stops waiting when the upload is cancelled", async () => {
    const cancel = new AbortController();
    const { budget } = budgetOf({}, cancel.signal);
    const waiting = budget.retryAfterFailure("no answer");
    cancel.abort(new Error("cancelled"));
    await expect(waiting).rejects.toThrow("cancelled");
    await expect(budget.retryAfterFailure("no answer")).rejects.toThrow("cancelled");
  });
});

describe("withRetries", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("retries a gateway that does not answer and a store it cannot reach, saying which, until a success", async () => {
    const notices: RetryNotice[] = [];
    const signal = new AbortController().signal;
    const onRetry = (n: RetryNotice) => notices.push(n);
    const budget = new RetryBudget(DEFAULT_RETRY_POLICY, "start the upload", { signal, onRetry });
    const unavailable = { errorDetails: [{ code: "STORAGE_UNAVAILABLE", message: "down", retryable: true }] };
    const answers: (() => Promise<string>)[] = [
      () => Promise.reject(new NetworkError("connect ECONNREFUSED")),
      () => Promise.reject(new UploadGatewayError(503, unavailable)),
      () => Promise.resolve("started"),
    ];
    const call = withRetries(budget, "start the upload", () => answers.shift()!());
    await vi.advanceTimersByTimeAsync(60_000);
    await expect(call).resolves.toBe("started");
    expect(notices.map((n) => n.unreachable)).toEqual(["gateway", "store"]);
    expect(budget.failed).toBe(0);
  });

  it("fails at once on an error that cannot succeed later", async () => {
    const budget = new RetryBudget(DEFAULT_RETRY_POLICY, "x", { signal: new AbortController().signal });
    const refused = new UploadGatewayError(400, { errors: ["fileName: is required"] });
    let calls = 0;
    const call = withRetries(budget, "start the upload", () => (calls++, Promise.reject(refused)));
    await expect(call).rejects.toThrow(/^Could not start the upload: fileName: is required$/);
    expect(calls).toBe(1);
  });
});

describe("retryingStatus", () => {
  it("says who is unreachable and how long retries go on, as the CLI's progress line shows it", () => {
    expect(retryingStatus({ what: "part 2", unreachable: "store" }, 130_000)).toBe(
      "store unreachable, retrying (2:10 left)",
    );
    expect(retryingStatus({ what: "complete the upload", unreachable: "gateway" }, 5_000)).toBe(
      "gateway unreachable, retrying (0:05 left)",
    );
    expect(retryingStatus({ what: "part 2" }, 59_500)).toBe("part 2 failed, retrying (1:00 left)");
  });

  it("says the gateway is still checking the file (VERIFICATION_PENDING): a wait, not a failure", () => {
    expect(retryingStatus({ what: "complete the upload", code: "VERIFICATION_PENDING" }, 5_000)).toBe(
      "gateway checking the file's content, waiting (0:05 left)",
    );
    expect(retryingStatus({ what: "complete the upload", code: "RATE_LIMITED" }, 5_000)).toBe(
      "complete the upload failed, retrying (0:05 left)",
    );
  });
});

describe("formatDuration", () => {
  it("shows minutes and seconds, rounded up", () => {
    expect([0, 999, 59_001, 130_000, 600_000].map(formatDuration)).toEqual(["0:00", "0:01", "1:00", "2:10", "10:00"]);
  });
});
