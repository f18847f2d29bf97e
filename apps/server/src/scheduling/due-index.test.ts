import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../storage/memory.storage";
import { RequestCounter } from "../../test/support/counting-storage";
import { until } from "../../test/support/until";
import { DueIndex, dueKey, parseDueKey, type ClaimedEntry } from "./due-index";
import { DueWorker, type DueOutcome } from "./due-worker";

const T0 = 1_800_000_000_000;

function setUp() {
  let clock = T0;
  const memory = new MemoryStorage();
  const counter = new RequestCounter();
  const storage = counter.wrap(memory);
  const now = () => clock;
  return {
    memory,
    counter,
    /** Two replicas' indexes on one store. */
    a: new DueIndex(storage, now),
    b: new DueIndex(storage, now),
    advance: (ms: number) => (clock += ms),
    now,
  };
}

describe("DueIndex", () => {
  it("keys sort by due time and name their entry; ids and kinds outside the safe set are refused", () => {
    const early = dueKey("webhook", "p1:abc", 5);
    const late = dueKey("webhook", "p0:abc", 1_000);
    expect(early < late).toBe(true);
    expect(parseDueKey("webhook", late)).toEqual({ kind: "webhook", id: "p0:abc", dueAt: 1_000, key: late });
    expect(parseDueKey("upload-expiry", late)).toBeUndefined();
    expect(() => dueKey("webhook", "a/b", 1)).toThrow(RangeError);
    expect(() => dueKey("Webhook", "a", 1)).toThrow(RangeError);
  });

  it("schedules once per kind, id and time; lists the due entries earliest first in one request", async () => {
    const { a, counter } = setUp();
    expect((await a.schedule("job", "x", T0 - 10)).created).toBe(true);
    expect((await a.schedule("job", "x", T0 - 10)).created).toBe(false);
    await a.schedule("job", "y", T0 - 20);
    await a.schedule("job", "z", T0 + 60_000);
    await a.schedule("other", "w", T0 - 30);
    counter.reset();
    expect((await a.due("job", 100)).map((r) => r.id)).toEqual(["y", "x"]);
    expect(counter.byMethod()).toEqual({ listKeys: 1 });
  });

  it("two replicas claiming one entry at once: one gets the lease; the lease holds it until it runs out", async () => {
    const { a, b, advance } = setUp();
    await a.schedule("job", "x", T0, { n: 1 });
    const [ref] = await a.due("job", 10);
    const claims = await Promise.all([a.claim(ref!, 30_000), b.claim(ref!, 30_000)]);
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(claims.find(Boolean)).toMatchObject({ payload: { n: 1 }, attempts: 0 });
    expect(await b.claim(ref!, 30_000)).toBeUndefined();
    // The holder died: once its lease ran out the entry is claimed again, the dead claim counted as an attempt.
    advance(30_001);
    const again = await b.claim(ref!, 30_000);
    expect(again).toMatchObject({ attempts: 1 });
  });

  it("reschedules only under its own lease: a holder whose lease ran out and was taken over changes nothing", async () => {
    const { a, b, advance } = setUp();
    await a.schedule("job", "x", T0);
    const [ref] = await a.due("job", 10);
    const stale = (await a.claim<unknown>(ref!, 1_000))!;
    advance(1_001);
    const current = (await b.claim<unknown>(ref!, 60_000))!;
    expect(await a.reschedule(stale, T0 + 5_000)).toBe(false);
    expect(await b.reschedule(current, T0 + 5_000, { retried: true })).toBe(true);
    expect(await a.due("job", 10)).toEqual([]);
    advance(5_000);
    const [moved] = await a.due("job", 10);
    expect(moved).toMatchObject({ id: "x", dueAt: T0 + 5_000 });
    expect(await a.claim(moved!, 1_000)).toMatchObject({ payload: { retried: true }, attempts: 2 });
  });

  it("DueWorker: work that throws is claimed again once its lease runs out (a process dying mid-work)", async () => {
    const { a, advance } = setUp();
    const seen: number[] = [];
    let failNext = true;
    const worker = new DueWorker<undefined>(
      a,
      "job",
      (entry: ClaimedEntry<undefined>): Promise<DueOutcome<undefined>> => {
        seen.push(entry.attempts);
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error("died"));
        }
        return Promise.resolve({ done: true });
      },
      { leaseMs: 10_000, concurrency: 2, pageSize: 10, onError: () => undefined },
    );
    await a.schedule("job", "x", T0);
    expect(await worker.poll()).toBe(0);
    expect(await worker.poll()).toBe(0); // leased: not yet
    advance(10_001);
    expect(await worker.poll()).toBe(1);
    expect(seen).toEqual([0, 1]);
    expect(await a.due("job", 10, Number.MAX_SAFE_INTEGER)).toEqual([]);
  });

  it("scheduleClaimed: one write schedules the work and claims it; nobody else claims it while the lease holds", async () => {
    const { a, b, counter, advance } = setUp();
    counter.reset();
    const own = await a.scheduleClaimed("job", "x", T0, { n: 1 }, 5_000);
    expect(counter.byMethod()).toEqual({ writeJson: 1 });
    expect(own).toMatchObject({ id: "x", payload: { n: 1 }, attempts: 0, leaseUntil: T0 + 5_000 });
    expect(await b.scheduleClaimed("job", "x", T0, { n: 2 }, 5_000)).toBeUndefined(); // there already
    const [ref] = await b.due("job", 10);
    expect(await b.claim(ref!, 5_000)).toBeUndefined();
    // The scheduler died: its lease runs out, and another replica takes the work over, the dead claim an attempt.
    advance(5_001);
    expect(await b.claim(ref!, (payload: { n: number } | undefined) => payload!.n * 1_000)).toMatchObject({
      attempts: 1,
      leaseUntil: T0 + 5_001 + 1_000, // the lease the payload asks for
    });
  });

  it("DueWorker.runClaimed settles work this process claimed itself and answers the handler's outcome", async () => {
    const { a } = setUp();
    const handled: string[] = [];
    type Outcome = DueOutcome<undefined> & { note?: string };
    const worker = new DueWorker<undefined, Outcome>(
      a,
      "job",
      (entry) => {
        handled.push(`poll:${entry.id}`);
        return Promise.resolve({ done: true });
      },
      { leaseMs: 10_000, concurrency: 1, pageSize: 10, onError: () => undefined },
    );
    const own = (await a.scheduleClaimed("job", "x", T0, undefined, 10_000))!;
    expect(await worker.poll()).toBe(0); // leased by this process: the poll leaves it to its own run
    const outcome = await worker.runClaimed(own, (entry) => {
      handled.push(`own:${entry.id}`);
      return Promise.resolve({ done: true, note: "known" });
    });
    expect(outcome).toEqual({ done: true, note: "known" });
    expect(handled).toEqual(["own:x"]);
    expect(await a.due("job", 10, Number.MAX_SAFE_INTEGER)).toEqual([]);
  });

  it("DueWorker, polling: a retry due before the next poll is run by this process at its time", async () => {
    const counter = new RequestCounter();
    const index = new DueIndex(counter.wrap(new MemoryStorage()));
    let attempts = 0;
    const worker = new DueWorker<undefined>(
      index,
      "job",
      () => Promise.resolve(++attempts === 1 ? { retryAt: Date.now() + 20 } : { done: true }),
      { leaseMs: 10_000, concurrency: 1, pageSize: 10, onError: () => undefined },
    );
    await index.schedule("job", "x", Date.now());
    worker.start(3_600_000, 0); // one poll now, the next in an hour
    try {
      await until("the retry", () => attempts === 2);
      await worker.settled();
      expect(counter.byMethod().listKeys).toBe(1);
      expect(await index.due("job", 10, Number.MAX_SAFE_INTEGER)).toEqual([]);
    } finally {
      await worker.stop();
    }
  });
});
