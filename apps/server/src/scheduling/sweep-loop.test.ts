import { describe, expect, it } from "vitest";
import { SweepLoop } from "./sweep-loop";

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("SweepLoop", () => {
  it("repeats its pass, timing the next from the end of the last, so that two never overlap", async () => {
    let running = 0;
    let most = 0;
    let passes = 0;
    const loop = new SweepLoop(async () => {
      running++;
      most = Math.max(most, running);
      await tick(30); // longer than the interval
      running--;
      passes++;
    }, 5);
    loop.start(0);
    await tick(200);
    await loop.stop();
    expect(passes).toBeGreaterThanOrEqual(2);
    expect(most).toBe(1);
  });

  it("stop() waits for the pass in progress and starts no other", async () => {
    let ended = false;
    let started = 0;
    const loop = new SweepLoop(async () => {
      started++;
      await tick(50);
      ended = true;
    }, 1);
    loop.start(0);
    await tick(10);
    expect(loop.stopped).toBe(false);
    await loop.stop();
    expect(loop.stopped).toBe(true);
    expect(ended).toBe(true);
    await tick(30);
    expect(started).toBe(1);
  });
});
