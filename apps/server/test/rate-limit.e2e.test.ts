import type { NestFastifyApplication } from "@nestjs/platform-fastify";
import { afterEach, describe, expect, it } from "vitest";
import { sha256Hex } from "../src/auth/project-registry";
import { throwawayGateways } from "./support/gateway";

/** Bursts against a gateway on the embedded store: what a client meets when it sends too much. */

const KEY = "key-burst-0123456789abcdef";
const OTHER_KEY = "key-other-0123456789abcdef";
const gateways = throwawayGateways();
afterEach(() => gateways.closeAll());

/** The server's default limits unless `env` sets them. */
const gateway = (env: Record<string, string> = {}) =>
  gateways.start({
    projects: {
      projects: [{ id: "films" }, { id: "slow", rateLimitPerMinute: 3 }, { id: "free", rateLimitPerMinute: 0 }],
      apiKeys: [
        { name: "burst", sha256: sha256Hex(KEY), projects: ["*"] },
        { name: "other", sha256: sha256Hex(OTHER_KEY), projects: ["*"] },
      ],
    },
    env,
  });

const list = (gw: NestFastifyApplication, project: string, key: string | undefined, remoteAddress = "198.51.100.1") =>
  gw.inject({
    method: "GET",
    url: `/api/projects/${project}/uploads?limit=1`,
    remoteAddress,
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });

describe("rate limits", () => {
  it("meet a burst from one key with 429 RATE_LIMITED, Retry-After and the envelope; other keys go on", async () => {
    const gw = await gateway({ RATE_LIMIT_PER_MINUTE: "20" });
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) statuses.push((await list(gw, "films", KEY)).statusCode);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.slice(20)).toEqual([429, 429, 429, 429, 429]);
    const limited = await list(gw, "films", KEY);
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers["retry-after"])).toBeLessThanOrEqual(3);
    expect(limited.headers["ratelimit-limit"]).toBe("20");
    expect(limited.headers["ratelimit-remaining"]).toBe("0");
    expect(limited.json()).toMatchObject({
      success: false,
      statusCode: 429,
      result: null,
      errorDetails: [{ code: "RATE_LIMITED", retryable: true }],
    });
    expect(limited.json().errors[0]).toMatch(/at most 20 a minute/);
    // Another key has its own bucket; this key stays limited from any address.
    expect((await list(gw, "films", OTHER_KEY)).statusCode).toBe(200);
    expect((await list(gw, "films", KEY, "203.0.113.9")).statusCode).toBe(429);
  });

  it("use a project's own rateLimitPerMinute, and none when it is 0", async () => {
    const gw = await gateway();
    const slow = [];
    for (let i = 0; i < 4; i++) slow.push((await list(gw, "slow", KEY)).statusCode);
    expect(slow).toEqual([200, 200, 200, 429]);
    for (let i = 0; i < 30; i++) expect((await list(gw, "free", KEY)).statusCode).toBe(200);
  });

  it("count requests without a valid key per IP, before authentication", async () => {
    const gw = await gateway({ RATE_LIMIT_PER_IP_PER_MINUTE: "5" });
    const guesses = [];
    for (let i = 0; i < 7; i++) guesses.push((await list(gw, "films", `guess-${i}-0123456789abcdef`)).statusCode);
    expect(guesses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    expect((await list(gw, "films", undefined)).statusCode).toBe(429);
    // Another address has its own budget; a valid key from the throttled address is counted on the key.
    expect((await list(gw, "films", undefined, "198.51.100.2")).statusCode).toBe(401);
    expect((await list(gw, "films", KEY)).statusCode).toBe(200);
  });

  it("leave health checks and CORS preflights alone", async () => {
    const gw = await gateway({ RATE_LIMIT_PER_IP_PER_MINUTE: "1" });
    for (let i = 0; i < 5; i++) {
      expect((await gw.inject({ method: "GET", url: "/health/live", remoteAddress: "198.51.100.1" })).statusCode).toBe(
        200,
      );
      const preflight = await gw.inject({
        method: "OPTIONS",
        url: "/api/projects/films/uploads/multipart",
        remoteAddress: "198.51.100.1",
        headers: { origin: "https://app.example.test", "access-control-request-method": "POST" },
      });
      expect(preflight.statusCode).not.toBe(429);
    }
  });
});
