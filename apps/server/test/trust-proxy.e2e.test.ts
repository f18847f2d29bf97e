import type { NestFastifyApplication } from "@nestjs/platform-fastify";
import { afterEach, describe, expect, it } from "vitest";
import { throwawayGateways } from "./support/gateway";

/**
 * X-Forwarded-For/-Host/-Proto are believed only from the proxies TRUST_PROXY names. A route added for the test shows
 * what the server makes of a request (rate limits and logs use `request.ip`); the dev session is the server's own
 * host-based decision.
 */

const DEV_KEY = "dev_0123456789abcdef0123";
const gateways = throwawayGateways();
afterEach(() => gateways.closeAll());

/** A dev-mode gateway (so that the dev session answers) with TRUST_PROXY as given, and a route echoing the request. */
async function gateway(trustProxy?: string): Promise<NestFastifyApplication> {
  const env: Record<string, string> = { DEV_API_KEY: DEV_KEY };
  if (trustProxy !== undefined) env.TRUST_PROXY = trustProxy;
  const app = await gateways.start({ env });
  const fastify = app.getHttpAdapter().getInstance();
  fastify.get("/test/request", (request) => ({ ip: request.ip, host: request.host, protocol: request.protocol }));
  await fastify.ready();
  return app;
}

const FORGED = { "x-forwarded-for": "203.0.113.7", "x-forwarded-host": "evil.example", "x-forwarded-proto": "https" };

async function seen(app: NestFastifyApplication, remoteAddress: string, headers: Record<string, string>) {
  const reply = await app.inject({
    method: "GET",
    url: "/test/request",
    remoteAddress,
    headers: { host: "127.0.0.1:3000", ...headers },
  });
  return reply.json<{ ip: string; host: string; protocol: string }>();
}

async function devSession(app: NestFastifyApplication, remoteAddress: string, headers: Record<string, string>) {
  return (await app.inject({ method: "GET", url: "/api/dev-session", remoteAddress, headers })).statusCode;
}

describe("TRUST_PROXY unset (the default)", () => {
  it("ignores forged X-Forwarded-For, -Host and -Proto", async () => {
    const gw = await gateway();
    expect(await seen(gw, "198.51.100.20", FORGED)).toEqual({
      ip: "198.51.100.20",
      host: "127.0.0.1:3000",
      protocol: "http",
    });
  });

  it("decides the dev session by the Host header alone", async () => {
    const gw = await gateway();
    expect(await devSession(gw, "127.0.0.1", { host: "127.0.0.1:3000", "x-forwarded-host": "evil.example" })).toBe(200);
    // A rebinding page names its own host; a forged X-Forwarded-Host cannot make it look local.
    expect(await devSession(gw, "127.0.0.1", { host: "evil.example:3000", "x-forwarded-host": "localhost" })).toBe(404);
  });
});

describe("TRUST_PROXY naming the proxy", () => {
  it("takes the client's address, host and protocol from a trusted proxy's headers", async () => {
    const gw = await gateway("127.0.0.1/32, 10.0.0.0/8");
    expect(await seen(gw, "127.0.0.1", FORGED)).toEqual({ ip: "203.0.113.7", host: "evil.example", protocol: "https" });
    expect(await seen(gw, "10.1.2.3", { "x-forwarded-for": "198.51.100.1, 10.9.9.9" })).toMatchObject({
      ip: "198.51.100.1",
    });
  });

  it("ignores the same headers from any other peer", async () => {
    const gw = await gateway("127.0.0.1");
    expect(await seen(gw, "198.51.100.20", FORGED)).toEqual({
      ip: "198.51.100.20",
      host: "127.0.0.1:3000",
      protocol: "http",
    });
  });

  it("refuses the dev session when the browser asked the proxy for another name", async () => {
    const gw = await gateway("loopback");
    expect(await devSession(gw, "127.0.0.1", { host: "127.0.0.1:3000", "x-forwarded-host": "evil.example" })).toBe(404);
    expect(await devSession(gw, "127.0.0.1", { host: "127.0.0.1:3000", "x-forwarded-host": "localhost:8080" })).toBe(
      200,
    );
  });
});

describe("TRUST_PROXY as a hop count", () => {
  it("believes that many hops of X-Forwarded-For, whoever the peer is", async () => {
    const gw = await gateway("1");
    expect(await seen(gw, "198.51.100.20", { "x-forwarded-for": "203.0.113.1, 203.0.113.2" })).toMatchObject({
      ip: "203.0.113.2",
    });
  });
});
