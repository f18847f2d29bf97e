import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../src/auth/project-registry";
import { NO_RATE_LIMITS, throwawayGateways } from "./support/gateway";
import { call, expectErrorEnvelope } from "./support/http";

/**
 * An identity provider whose key set is hostile: 96 MiB of it (streamed, or declared up front), or 101 keys. The
 * gateway reads at most 1 MiB and takes at most 100 keys: the provider's tokens get 503 IDENTITY_PROVIDER_UNAVAILABLE
 * and one clear log line, API keys work on.
 */

const ISSUER = "https://idp.example.test/";
const AUDIENCE = "upload-gateway-tests";
const API_KEY = "key-jwks-0123456789abcdef";
const HUGE = 96 * 1024 * 1024;

let signingKey: CryptoKey;
let publicJwk: JWK;
let server: Server;
let base: string;
/** Per path: requests served, and bytes of the body the server managed to write before the client stopped reading. */
const served = new Map<string, { requests: number; written: number }>();

/** Writes `total` bytes of a key set that never ends well, as fast as the client reads them. */
function streamHuge(response: ServerResponse, total: number, record: { written: number }): void {
  const chunk = Buffer.alloc(64 * 1024, 0x20); // JSON whitespace
  response.write('{"keys":[');
  const pump = () => {
    while (record.written < total) {
      record.written += chunk.length;
      if (!response.write(chunk)) return void response.once("drain", pump);
    }
    response.end("]}");
  };
  response.on("close", () => response.removeAllListeners("drain"));
  pump();
}

const keySet = (count: number) => ({
  keys: Array.from({ length: count }, (_, i) => ({ ...publicJwk, kid: i === 0 ? "idp-1" : `old-${i}` })),
});

beforeAll(async () => {
  const pair = await generateKeyPair("ES256");
  signingKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), alg: "ES256", use: "sig" };
  server = createServer((request, response) => {
    const path = (request.url ?? "").split("?")[0]!;
    const record = served.get(path) ?? { requests: 0, written: 0 };
    served.set(path, record);
    record.requests++;
    if (path === "/streamed") {
      response.writeHead(200, { "content-type": "application/json" });
      streamHuge(response, HUGE, record);
    } else if (path === "/declared") {
      response.writeHead(200, { "content-type": "application/json", "content-length": String(HUGE + 11) });
      streamHuge(response, HUGE, record);
    } else {
      const count = path === "/101-keys" ? 101 : 100;
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(keySet(count)));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server?.close(resolve)));

const gateways = throwawayGateways();
let lines: string[] = [];
afterEach(async () => {
  await gateways.closeAll();
  lines = [];
});

const gateway = (jwksUrl: string) =>
  gateways.start({
    projects: { projects: [{ id: "films" }], apiKeys: [{ name: "k", sha256: sha256Hex(API_KEY), projects: ["*"] }] },
    env: {
      ...NO_RATE_LIMITS,
      LOG_LEVEL: "warn",
      AUTH_JWKS_URL: jwksUrl,
      AUTH_JWT_ISSUER: ISSUER,
      AUTH_JWT_AUDIENCE: AUDIENCE,
    },
    logging: { destination: { write: (line: string) => void lines.push(line) } },
  });

const idpToken = () =>
  new SignJWT({ upload_gateway_projects: ["films"] })
    .setProtectedHeader({ alg: "ES256", kid: "idp-1" })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject("alice")
    .setExpirationTime("5m")
    .sign(signingKey);

const start = async (bearer: string) =>
  call(await current!, "POST", "/api/projects/films/uploads/multipart", {
    headers: { authorization: `Bearer ${bearer}` },
    body: { partsNumber: 1, fileName: "a.mp4", contentLength: 10, mimeType: "video/mp4" },
  });
let current: ReturnType<typeof gateway> | undefined;

describe("an identity provider's key set", () => {
  it.each([
    ["streamed without a length", "/streamed", /is larger than 1048576 bytes/],
    ["declared in Content-Length", "/declared", /declares 100663307 bytes, more than 1048576/],
  ])(
    "of 96 MiB, %s, is refused after at most 1 MiB: 503 for its tokens, API keys unaffected",
    async (_what, path, reason) => {
      current = gateway(`${base}${path}?token=jwks-secret`);
      expectErrorEnvelope(await start(await idpToken()), 503, "IDENTITY_PROVIDER_UNAVAILABLE");
      // The server could not push the whole set: the gateway stopped reading (socket buffers hold a few MiB at most).
      expect(served.get(path)!.written).toBeLessThan(16 * 1024 * 1024);
      const refusals = lines.filter((line) => line.includes("key set at"));
      expect(refusals).toHaveLength(1);
      expect(refusals[0]).toMatch(reason);
      expect(refusals[0]).toContain("?token=[REDACTED]");
      expect(refusals[0]).not.toContain("jwks-secret");
      // A second token soon after is answered from the refusal, without fetching 1 MiB again nor logging again.
      expectErrorEnvelope(await start(await idpToken()), 503, "IDENTITY_PROVIDER_UNAVAILABLE");
      expect(served.get(path)!.requests).toBe(1);
      expect(lines.filter((line) => line.includes("key set at"))).toHaveLength(1);
      expect((await start(API_KEY)).status).toBe(200);
    },
  );

  it("with 101 keys is refused; with 100 its tokens are accepted", async () => {
    current = gateway(`${base}/101-keys`);
    expectErrorEnvelope(await start(await idpToken()), 503, "IDENTITY_PROVIDER_UNAVAILABLE");
    expect(lines.join("")).toMatch(
      /key set at http:\/\/127\.0\.0\.1:\d+\/101-keys is refused: it has 101 keys, more than 100/,
    );
    expect((await start(API_KEY)).status).toBe(200);
    current = gateway(`${base}/100-keys`);
    const accepted = await start(await idpToken());
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
  });
});
