import { describe, expect, it } from "vitest";
import { DueIndex } from "../scheduling/due-index";
import { MemoryStorage } from "../storage/memory.storage";
import { RequestCounter } from "../../test/support/counting-storage";
import { EXPIRY_KIND, ExpirySchedule } from "./expiry-schedule";

const WINDOW = 300_000;
const GRACE = 3_600_000;

describe("ExpirySchedule", () => {
  it("one entry per project and window, due strictly after the grace of every upload in it; noted once per process", async () => {
    const counter = new RequestCounter();
    const storage = counter.wrap(new MemoryStorage());
    const index = new DueIndex(storage);
    const schedule = new ExpirySchedule(index, WINDOW, GRACE);
    const base = Math.ceil(Date.now() / WINDOW) * WINDOW + 10 * WINDOW; // a window boundary
    expect(schedule.dueAtOf(base - GRACE - 1)).toBe(base);
    expect(schedule.dueAtOf(base - GRACE)).toBe(base + WINDOW); // isExpired needs strictly past the grace
    await schedule.ensure("p1", base - GRACE - 1000);
    await schedule.ensure("p1", base - GRACE - 2000); // same window: noted
    await schedule.ensure("p2", base - GRACE - 1000);
    expect(counter.byMethod()).toEqual({ writeJson: 2 });
    // Another replica (or this one after a restart) writes it again: found there, still one entry.
    await new ExpirySchedule(index, WINDOW, GRACE).ensure("p1", base - GRACE - 1000);
    const due = await index.due(EXPIRY_KIND, 10, base);
    expect(due.map((r) => [r.id, r.dueAt])).toEqual([
      ["p1", base],
      ["p2", base],
    ]);
  });
});
