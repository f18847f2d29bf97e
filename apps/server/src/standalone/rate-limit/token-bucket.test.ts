import { describe, expect, it } from "vitest";
import { TokenBuckets } from "./token-bucket";

describe("TokenBuckets", () => {
  it("allows a burst of the limit, then one request per refilled token, with the wait in Retry-After", () => {
    let now = 0;
    const buckets = new TokenBuckets(() => now);
    const verdicts = Array.from({ length: 61 }, () => buckets.take("k", 1, 60));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(60);
    expect(verdicts[59]).toMatchObject({ allowed: true, remaining: 0 });
    expect(verdicts[60]).toMatchObject({ allowed: false, remaining: 0, retryAfterSeconds: 1, limit: 60 });
    now += 999;
    expect(buckets.take("k", 1, 60).allowed).toBe(false);
    now += 1;
    expect(buckets.take("k", 1, 60).allowed).toBe(true);
    // Ids are independent.
    expect(buckets.take("other", 1, 60)).toMatchObject({ allowed: true, remaining: 59 });
  });

  it("says how long to wait when the limit is low", () => {
    let now = 0;
    const buckets = new TokenBuckets(() => now);
    buckets.take("k", 1, 2);
    buckets.take("k", 1, 2);
    expect(buckets.take("k", 1, 2)).toMatchObject({ allowed: false, retryAfterSeconds: 30 });
    now = 30_000;
    expect(buckets.take("k", 1, 2).allowed).toBe(true);
  });

  it("keeps memory bounded: full buckets are swept, and strangers beyond the cap evict the oldest", () => {
    let now = 0;
    const buckets = new TokenBuckets(() => now, 3);
    for (const id of ["a", "b", "c", "d", "e"]) buckets.take(id, 1, 10);
    expect(buckets.size).toBe(3);
    now = 60_000;
    buckets.sweep();
    expect(buckets.size).toBe(0);
  });
});
