import { startRedisServer, type RedisServer } from "@upload-gateway/redis-server";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { until } from "../../../test/support/until";
import { RedisRateLimitStore, type RedisStoreEvents } from "./redis-rate-limit.store";

/** The Redis adapter against a real redis-server (Debian's), started for this file and stopped and frozen by it. */

let redis: RedisServer;
let inspector: Redis;
const stores: RedisRateLimitStore[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  inspector = new Redis(redis.url);
});
afterAll(async () => {
  inspector?.disconnect();
  await redis?.close();
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
  if (!redis.running) await redis.start();
  redis.resume();
  await until("the inspector to reconnect", () => inspector.status === "ready");
});

interface Recorded extends RedisStoreEvents {
  failed: Error[];
  readies: number;
}

function recorder(): Recorded {
  const events: Recorded = {
    failed: [],
    readies: 0,
    failedTake: (error) => void events.failed.push(error),
    connectionError: () => undefined,
    ready: () => void (events.readies += 1),
  };
  return events;
}

let keyCounter = 0;
/** A fresh key, and a fresh key prefix per store so tests do not meet each other's buckets. */
const freshKey = () => `key:test-${process.pid}-${++keyCounter}\nproject`;

async function store(
  events: RedisStoreEvents = recorder(),
  commandTimeoutMs = 10_000,
  keyPrefix?: string,
): Promise<RedisRateLimitStore> {
  const created = await RedisRateLimitStore.connect({ url: redis.url, commandTimeoutMs, events, keyPrefix });
  stores.push(created);
  return created;
}

describe("RedisRateLimitStore", () => {
  it("never allows more than the bucket holds, however many takes race on two replicas' connections", async () => {
    const [a, b] = [await store(), await store()];
    const key = freshKey();
    // A burst of 50 refilled at 1 a minute: the test ends long before a second token could come back.
    const verdicts = await Promise.all(Array.from({ length: 300 }, (_, i) => (i % 2 ? a : b).take(key, 1, 1, 50)));
    const allowed = verdicts.filter((v) => v.allowed);
    expect(verdicts.every((v) => v.counted)).toBe(true);
    expect(allowed).toHaveLength(50);
    // Each allowed take saw the bucket one token lower than another: they ran one at a time.
    expect(allowed.map((v) => v.remaining).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(verdicts.filter((v) => !v.allowed).every((v) => v.remaining === 0 && v.retryAfterSeconds >= 1)).toBe(true);
  });

  it("takes `cost` tokens, says when enough will be back, and keeps each key apart", async () => {
    const s = await store();
    const key = freshKey();
    expect(await s.take(key, 3, 6, 5)).toMatchObject({ allowed: true, counted: true, limit: 5, remaining: 2 });
    // 2 left, 3 wanted: one more token comes back in 10 s at 6 a minute.
    const refused = await s.take(key, 3, 6, 5);
    expect(refused).toMatchObject({ allowed: false, counted: true, remaining: 2 });
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(9);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(10);
    expect(await s.take(freshKey(), 5, 6, 5)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it("refills on Redis's clock", async () => {
    const s = await store();
    const key = freshKey();
    // 60,000 a minute is one a millisecond: a burst of 2 is full again 2 ms after it was emptied.
    await s.take(key, 2, 60_000, 2);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await s.take(key, 2, 60_000, 2)).toMatchObject({ allowed: true, counted: true });
  });

  it("keeps hashed keys that expire once their bucket would be full again", async () => {
    const s = await store(recorder(), 10_000, "expiry-test:");
    await s.take("key:owner-name\nproject", 1, 60, 60);
    const keys = await inspector.keys("expiry-test:*");
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^expiry-test:[\w-]{43}$/);
    const ttl = await inspector.pttl(keys[0]!);
    // One token short of 60 at 60 a minute: full after 1 s, plus the script's 1 s margin.
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2000);
  });

  it("runs the script again after Redis lost its script cache (EVALSHA falls back to EVAL)", async () => {
    const s = await store();
    const key = freshKey();
    await s.take(key, 1, 1, 2);
    await inspector.script("FLUSH");
    expect(await s.take(key, 1, 1, 2)).toMatchObject({ allowed: true, counted: true, remaining: 0 });
    expect(await s.take(key, 1, 1, 2)).toMatchObject({ allowed: false, counted: true });
  });

  it("lets a take through uncounted when Redis hangs (after the command timeout), counts once it answers", async () => {
    const events = recorder();
    const s = await store(events, 200);
    const key = freshKey();
    await s.take(key, 1, 1, 1);
    redis.pause();
    const during = await s.take(key, 1, 1, 1);
    expect(during).toMatchObject({ allowed: true, counted: false });
    expect(events.failed.map((e) => e.message)).toEqual([expect.stringMatching(/did not answer within 200 ms/)]);
    redis.resume();
    // The bucket is still empty: the take that timed out did not count, nor did it refill anything.
    await until("Redis to answer again", async () => (await s.take(key, 1, 1, 1)).counted);
    expect(await s.take(key, 1, 1, 1)).toMatchObject({ allowed: false, counted: true });
  });

  it("does not take its own busy event loop for a Redis that does not answer", async () => {
    const events = recorder();
    const s = await store(events, 50);
    const key = freshKey();
    const take = s.take(key, 1, 1, 5);
    // The loop is blocked for 6 times the timeout (a flood of requests, a long synchronous task) while Redis answers
    // at once: the reply is waiting in the socket when the timer comes due.
    const until = Date.now() + 300;
    while (Date.now() < until) {
      // busy
    }
    expect(await take).toMatchObject({ allowed: true, counted: true, remaining: 4 });
    expect(events.failed).toEqual([]);
  });

  it("sends no more takes while too many are unanswered (a hung Redis keeps them); drops none it sent", async () => {
    const events = recorder();
    const options = { url: redis.url, commandTimeoutMs: 100, events, maxUnanswered: 3 };
    const created = await RedisRateLimitStore.connect(options);
    stores.push(created);
    const key = freshKey();
    redis.pause();
    const during = await Promise.all(Array.from({ length: 5 }, () => created.take(key, 1, 1, 10)));
    expect(during.every((v) => v.allowed && !v.counted)).toBe(true);
    expect(events.failed.map((e) => e.message)).toEqual([
      ...Array.from({ length: 2 }, () => expect.stringMatching(/3 rate-limit checks sent to Redis are still unanswer/)),
      ...Array.from({ length: 3 }, () => expect.stringMatching(/did not answer within 100 ms/)),
    ]);
    redis.resume();
    // Replies come in order: once a take on another key is answered, so are the 3 sent during the pause.
    await until("Redis to answer again", async () => (await created.take(freshKey(), 1, 1, 10)).counted);
    // Redis ran the 3 it was sent once resumed (10 - 3), not the 2 that were never sent, then this one.
    expect(await created.take(key, 1, 1, 10)).toMatchObject({ counted: true, remaining: 6 });
  });

  it("connects anew when Redis has answered nothing for a while (an end that vanished without closing)", async () => {
    const events = recorder();
    const errors: Error[] = [];
    const created = await RedisRateLimitStore.connect({
      url: redis.url,
      commandTimeoutMs: 50,
      events: { ...events, connectionError: (error) => void errors.push(error) },
      stallMs: 300,
    });
    stores.push(created);
    redis.pause();
    await until("the store to give up on the connection", async () => {
      await created.take(freshKey(), 1, 1, 1);
      return errors.some((e) => /answered nothing for \d+ ms: connecting again/.test(e.message));
    });
    redis.resume();
    await until("the store to count again", async () => (await created.take(freshKey(), 1, 1, 1)).counted);
  });

  it("fails open at once while Redis is down, and reconnects by itself when it is back", async () => {
    const events = recorder();
    const s = await store(events);
    expect(events.readies).toBe(1);
    await redis.stop();
    const downs = await Promise.all(Array.from({ length: 5 }, () => s.take(freshKey(), 1, 1, 1)));
    expect(downs.every((v) => v.allowed && !v.counted)).toBe(true);
    expect(events.failed).toHaveLength(5);
    await redis.start();
    await until("the store to reconnect", () => events.readies === 2);
    const key = freshKey();
    expect(await s.take(key, 1, 1, 1)).toMatchObject({ allowed: true, counted: true });
    expect(await s.take(key, 1, 1, 1)).toMatchObject({ allowed: false, counted: true });
  });

  it("starts without Redis, failing open, and counts once Redis comes up", async () => {
    await redis.stop();
    const events = recorder();
    const s = await store(events);
    expect(await s.take(freshKey(), 1, 1, 1)).toMatchObject({ allowed: true, counted: false });
    await redis.start();
    await until("the store to connect", () => events.readies === 1);
    expect(await s.take(freshKey(), 1, 1, 1)).toMatchObject({ allowed: true, counted: true });
  });
});
