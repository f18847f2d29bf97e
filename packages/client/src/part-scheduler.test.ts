import { afterEach, describe, expect, it, vi } from "vitest";
import { PartScheduler } from "./part-scheduler";

/** A part send the test settles by hand. */
function manualSends() {
  const pending = new Map<number, { resolve: () => void; reject: (error: Error) => void; signal: AbortSignal }>();
  const started: number[] = [];
  const send = (scheduler: PartScheduler) => (partNumber: number) =>
    new Promise<void>((resolve, reject) => {
      started.push(partNumber);
      const attempt = scheduler.attempt(partNumber);
      const { controller } = attempt;
      const release = () => attempt.release();
      controller.signal.addEventListener("abort", () => reject(controller.signal.reason as Error));
      pending.set(partNumber, {
        resolve: () => (release(), resolve()),
        reject: (error) => (release(), reject(error)),
        signal: controller.signal,
      });
    });
  return { pending, started, send };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("PartScheduler", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("keeps `concurrency` parts in flight, in order, and tells each send the parts next in line", async () => {
    const scheduler = new PartScheduler(new AbortController().signal);
    const { pending, started, send } = manualSends();
    const next: number[][] = [];
    const run = scheduler.run([1, 2, 3, 4, 5], 2, (n, upcoming) => (next.push(upcoming), send(scheduler)(n)));
    await tick();
    expect(started).toEqual([1, 2]);
    expect(next[0]).toEqual([2, 3]); // asked as part 1 was taken: the next in line, part 2 included
    pending.get(2)!.resolve();
    await tick();
    expect(started).toEqual([1, 2, 3]);
    for (const n of [1, 3, 4, 5]) {
      pending.get(n)?.resolve();
      await tick();
    }
    await run;
    expect(started).toEqual([1, 2, 3, 4, 5]);
  });

  it("pause lets the parts in flight finish and starts no other until resume", async () => {
    const scheduler = new PartScheduler(new AbortController().signal);
    const { pending, started, send } = manualSends();
    const run = scheduler.run([1, 2, 3], 1, send(scheduler));
    await tick();
    scheduler.pause();
    pending.get(1)!.resolve();
    await tick();
    expect(started).toEqual([1]);
    expect(pending.get(1)!.signal.aborted).toBe(false);
    scheduler.resume();
    await tick();
    expect(started).toEqual([1, 2]);
    pending.get(2)!.resolve();
    await tick();
    pending.get(3)!.resolve();
    await run;
  });

  it("one failed part stops the others in flight and starts no more", async () => {
    const scheduler = new PartScheduler(new AbortController().signal);
    const { pending, started, send } = manualSends();
    const run = scheduler.run([1, 2, 3, 4], 2, send(scheduler));
    await tick();
    pending.get(1)!.reject(new Error("part 1 refused"));
    await expect(run).rejects.toThrow("part 1 refused");
    expect(pending.get(2)!.signal.aborted).toBe(true);
    expect(started).toEqual([1, 2]);
  });

  it("a cancel aborts the parts in flight and wakes a paused run", async () => {
    const cancel = new AbortController();
    const scheduler = new PartScheduler(cancel.signal);
    const { pending, send } = manualSends();
    const run = scheduler.run([1, 2], 1, send(scheduler));
    await tick();
    scheduler.pause();
    cancel.abort(new Error("cancelled"));
    await expect(run).rejects.toThrow("cancelled");
    expect(pending.get(1)!.signal.aborted).toBe(true);
  });

  it("starts no part while the browser is offline, and goes on at its online event", async () => {
    const events = new EventTarget();
    const nav = { onLine: false };
    vi.stubGlobal("navigator", nav);
    vi.stubGlobal("addEventListener", events.addEventListener.bind(events));
    vi.stubGlobal("removeEventListener", events.removeEventListener.bind(events));
    const scheduler = new PartScheduler(new AbortController().signal);
    const { pending, started, send } = manualSends();
    const run = scheduler.run([1], 1, send(scheduler));
    await tick();
    expect(started).toEqual([]);
    nav.onLine = true;
    events.dispatchEvent(new Event("online"));
    await tick();
    expect(started).toEqual([1]);
    pending.get(1)!.resolve();
    await run;
  });
});
