import { beforeAll, describe, expect, it } from "vitest";
import { MemoryStorage } from "../storage/memory.storage";
import { RequestCounter } from "../../test/support/counting-storage";
import { VERIFY_KIND } from "../uploads/content-check/content-verification";
import { EXPIRY_KIND } from "../uploads/expiry-schedule";
import { OpenUploads } from "../uploads/open-uploads";
import { openSlotKey } from "../uploads/upload-keys";
import { WEBHOOK_KIND } from "../webhooks/webhook-outbox.service";
import { DueIndex, dueKey } from "./due-index";
import { DueWorker, type DueOutcome } from "./due-worker";

/**
 * Idle cost and due-work latency at scale, counted in store requests and polls (not wall time): a store with 10,000
 * projects, each with 10 uploads in progress (100,000 open-upload markers), a pending expiry, a webhook delivery and a
 * content check backing off, against one with a single project laid out alike.
 */
const T0 = 1_800_000_000_000;
const POLL_MS = 5_000;
const UPLOADS_PER_PROJECT = 10;
const MINUTE = 60_000;

async function populate(memory: MemoryStorage, projects: number): Promise<void> {
  const writes: (() => Promise<unknown>)[] = [];
  for (let p = 0; p < projects; p++) {
    const projectId = `p${p}`;
    for (let u = 0; u < UPLOADS_PER_PROJECT; u++) {
      const expiresAt = new Date(T0 + 86_400_000).toISOString();
      const marker = { requestKey: `r${p}-${u}`, createdAt: new Date(T0).toISOString(), expiresAt };
      writes.push(() => memory.writeJson(openSlotKey(projectId, u), marker));
    }
    const entry = (kind: string, dueAt: number) => ({ kind, id: projectId, dueAt, attempts: 0 });
    const expiryDue = T0 + 2 * 3_600_000 + p * 1_000;
    const retryDue = T0 + 24 * 60 * MINUTE + p * 1_000; // receivers down: backing off
    writes.push(() => memory.writeJson(dueKey(EXPIRY_KIND, projectId, expiryDue), entry(EXPIRY_KIND, expiryDue)));
    writes.push(() => memory.writeJson(dueKey(WEBHOOK_KIND, projectId, retryDue), entry(WEBHOOK_KIND, retryDue)));
    writes.push(() => memory.writeJson(dueKey(VERIFY_KIND, projectId, retryDue), entry(VERIFY_KIND, retryDue)));
  }
  for (let i = 0; i < writes.length; i += 10_000) await Promise.all(writes.slice(i, i + 10_000).map((w) => w()));
}

/** A gateway's three pollers over `memory`, counted, on a clock the test moves. */
function gateway(memory: MemoryStorage) {
  const counter = new RequestCounter();
  const storage = counter.wrap(memory);
  let clock = T0;
  const now = () => clock;
  const index = new DueIndex(storage, now);
  const opens = new OpenUploads(storage, () => Promise.resolve(undefined), now);
  const delivered: { id: string; at: number }[] = [];
  const failOnce = new Set<string>();
  const webhooks = new DueWorker<unknown>(
    index,
    WEBHOOK_KIND,
    (entry): Promise<DueOutcome<unknown>> => {
      if (failOnce.delete(entry.id)) return Promise.resolve({ retryAt: now() + 30_000 }); // the receiver failed
      delivered.push({ id: entry.id, at: now() });
      return Promise.resolve({ done: true });
    },
    { leaseMs: 25_000, concurrency: 4, pageSize: 100, onError: (_, e) => console.error(e) },
  );
  const looked: string[] = [];
  const expiry = new DueWorker<undefined>(
    index,
    EXPIRY_KIND,
    async (entry): Promise<DueOutcome<undefined>> => {
      for await (const marker of opens.markers(entry.id)) looked.push(marker.requestKey);
      return { done: true };
    },
    { leaseMs: 600_000, concurrency: 2, pageSize: 100, onError: (_, e) => console.error(e) },
  );
  const checks = new DueWorker<unknown>(index, VERIFY_KIND, () => Promise.resolve({ done: true }), {
    leaseMs: 120_000,
    concurrency: 2,
    pageSize: 50,
    onError: (_, e) => console.error(e),
  });
  /** One poll of each kind, then the clock moves one interval; answers the poll's requests. */
  const poll = async () => {
    counter.reset();
    await Promise.all([webhooks.poll(), expiry.poll(), checks.poll()]);
    clock += POLL_MS;
    return counter.requests.length;
  };
  return { index, poll, now, delivered, failOnce, looked, setClock: (at: number) => (clock = at) };
}

describe("due work at scale (10,000 projects, 100,000 uploads in progress)", () => {
  const many = new MemoryStorage();
  beforeAll(() => populate(many, 10_000), 60_000);

  it("an idle poll costs the same requests with 10,000 projects as with one: one LIST per kind", async () => {
    const one = new MemoryStorage();
    await populate(one, 1);
    const small = gateway(one);
    const large = gateway(many);
    const perPoll = { small: [] as number[], large: [] as number[] };
    for (let i = 0; i < 12; i++) {
      perPoll.small.push(await small.poll());
      perPoll.large.push(await large.poll());
    }
    expect(perPoll.small).toEqual(Array(12).fill(3));
    expect(perPoll.large).toEqual(perPoll.small);
    // Per minute at a poll every 5 s: 36 requests, whatever the number of projects.
    expect(perPoll.large.reduce((a, b) => a + b, 0)).toBe(36);
  }, 60_000);

  it("a delivery retried after a failure goes out at the first poll after it is due; an expiry reads one project", async () => {
    const gw = gateway(many);
    // A new event of project p5000 among them: its first attempt fails, and it is due again 30 s later.
    gw.failOnce.add("p5000:evt");
    await gw.index.schedule(WEBHOOK_KIND, "p5000:evt", gw.now());
    await gw.poll();
    expect(gw.delivered).toEqual([]);
    const dueAt = gw.now() - POLL_MS + 30_000;
    let polls = 0;
    while (gw.delivered.length === 0 && polls < 20) {
      await gw.poll();
      polls++;
    }
    const delivery = gw.delivered[0]!;
    expect(delivery.id).toBe("p5000:evt");
    // Polls since it became due: at most 2 (it goes out at the first poll at or after its due time).
    const pollsAfterDue = Math.ceil((delivery.at - dueAt) / POLL_MS);
    expect(pollsAfterDue).toBeLessThanOrEqual(2);

    // When one project's expiry window comes due, the poll reads that project's markers, not the store's.
    gw.setClock(T0 + 2 * 3_600_000 + 7_000);
    const requests = await gw.poll();
    // The first 8 projects' windows are due by then (a second apart): 3 LISTs, then per project a claim (2), its
    // markers (a LIST and 10 reads) and the removal.
    expect(gw.looked).toHaveLength(8 * UPLOADS_PER_PROJECT);
    expect(requests).toBe(3 + 8 * (2 + 1 + UPLOADS_PER_PROJECT + 1));
  }, 60_000);
});
