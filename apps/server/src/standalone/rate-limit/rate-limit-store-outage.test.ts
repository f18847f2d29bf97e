import type { Logger } from "pino";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../config/app-config";
import { rateLimitScope } from "./rate-limit-store.factory";
import { RateLimitStoreOutage } from "./rate-limit-store-outage";

function fakeLogger() {
  const lines: { level: string; message: string }[] = [];
  const logger = {
    warn: (_fields: unknown, message: string) => void lines.push({ level: "warn", message }),
    info: (message: string) => void lines.push({ level: "info", message }),
  } as unknown as Logger;
  return { logger, lines };
}

describe("RateLimitStoreOutage", () => {
  it("counts every request let through, warns once a minute at most, and says once when Redis answers again", () => {
    let now = 0;
    let counted = 0;
    const { logger, lines } = fakeLogger();
    const outage = new RateLimitStoreOutage(
      logger,
      () => (counted += 1),
      60_000,
      () => now,
    );
    outage.ready(); // at start: nothing to say
    for (let i = 0; i < 100; i++) {
      outage.failedTake(new Error("connect ECONNREFUSED 127.0.0.1:6379"));
      outage.connectionError(new Error("connect ECONNREFUSED 127.0.0.1:6379"));
      now += 100;
    }
    expect(counted).toBe(100);
    const warning = /not counted: Redis \(REDIS_URL\) fails \(connect ECONNREFUSED/;
    expect(lines).toEqual([{ level: "warn", message: expect.stringMatching(warning) }]);
    now = 60_000;
    outage.failedTake(new Error("Command timed out"));
    expect(lines).toHaveLength(2);
    // 99 were let through unreported in the first minute, and this one.
    expect(lines[1]!.message).toMatch(/Command timed out.*\(100 so far/);
    outage.ready();
    outage.ready();
    expect(lines.slice(2)).toEqual([{ level: "info", message: expect.stringMatching(/answers again/) }]);
    // A new failure within the minute is counted but not logged again.
    outage.failedTake(new Error("Connection is closed."));
    expect(counted).toBe(102);
    expect(lines).toHaveLength(3);
  });
});

describe("rateLimitScope (the start banner's line)", () => {
  const s3 = { STORAGE: "s3", S3_BUCKET: "videos", PROJECTS_FILE: "/p.json" };
  it("says limits are per replica on S3 without REDIS_URL, and where Redis is without its password", () => {
    expect(rateLimitScope(loadConfig(s3))).toMatch(/^per replica: .*set REDIS_URL/);
    expect(rateLimitScope(loadConfig({}))).toBeUndefined();
    const withPassword = { ...s3, REDIS_URL: "rediss://gateway:s3cret@redis.internal:6380/1" };
    const shared = rateLimitScope(loadConfig(withPassword));
    expect(shared).toBe("shared by the replicas in Redis at rediss://redis.internal:6380/1");
    const local = rateLimitScope(loadConfig({ REDIS_URL: "redis://127.0.0.1:6379" }));
    expect(local).toMatch(/at redis:\/\/127\.0\.0\.1:6379$/);
  });
});
