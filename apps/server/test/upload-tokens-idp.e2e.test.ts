import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, expectErrorEnvelope } from "./support/http";
import { freePort, startGateway, type TestGateway } from "./support/gateway";

/**
 * An identity provider's JWTs (AUTH_JWKS_URL): an ES256 key pair made here, its public key served as a JWKS on
 * loopback by node:http. Accepted on the projects its claim names, as its subject, with 30 s of clock leeway.
 */

const ISSUER = "https://idp.example.test/";
const AUDIENCE = "upload-gateway-tests";

let jwks: Server;
let jwksUrl: string;
let signingKey: CryptoKey;
let publicJwk: JWK;
let gw: TestGateway;
beforeAll(async () => {
  const pair = await generateKeyPair("ES256");
  signingKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: "idp-1", alg: "ES256", use: "sig" };
  jwks = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [publicJwk] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
  jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
  gw = await startGateway({ AUTH_JWKS_URL: jwksUrl, AUTH_JWT_ISSUER: ISSUER, AUTH_JWT_AUDIENCE: AUDIENCE }, "local");
});
afterAll(async () => {
  await gw?.close();
  await new Promise((resolve) => jwks?.close(resolve));
});

interface IdpToken {
  sub?: string;
  projects?: unknown;
  iss?: string;
  aud?: string;
  /** Seconds from now; negative for a token that has expired. */
  expiresIn?: number;
  key?: CryptoKey;
  kid?: string;
}

function idpToken({
  sub = "alice",
  projects = [gw.projectId],
  iss = ISSUER,
  aud = AUDIENCE,
  expiresIn = 300,
  key,
  kid = "idp-1",
}: IdpToken = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ upload_gateway_projects: projects })
    .setProtectedHeader({ alg: "ES256", kid })
    .setIssuer(iss)
    .setAudience(aud)
    .setSubject(sub)
    .setIssuedAt(now - 600)
    .setExpirationTime(now + expiresIn)
    .sign(key ?? signingKey);
}

const uploads = () => `/api/projects/${gw.projectId}/uploads`;
const start = (token: string, projectId = gw.projectId) =>
  call(gw.app, "POST", `/api/projects/${projectId}/uploads/multipart`, {
    headers: { authorization: `Bearer ${token}` },
    body: { partsNumber: 1, fileName: "a.mp4", contentLength: 10, mimeType: "video/mp4" },
  });

describe("identity provider tokens", () => {
  it("start uploads on the projects their claim names, and act as their subject on them", async () => {
    const started = await start(await idpToken());
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const { requestKey } = started.body.result;
    // A later token of the same subject sees it; another subject does not.
    const again = await call(gw.app, "GET", `${uploads()}/${requestKey}`, {
      headers: { authorization: `Bearer ${await idpToken()}` },
    });
    expect(again.body.result.state).toBe("uploading");
    const bob = await call(gw.app, "GET", `${uploads()}/${requestKey}`, {
      headers: { authorization: `Bearer ${await idpToken({ sub: "bob" })}` },
    });
    expectErrorEnvelope(bob, 404, "UPLOAD_NOT_FOUND");
    // A single project id as a string works as a list of one.
    expect((await start(await idpToken({ projects: gw.projectId }))).status).toBe(200);
  });

  it("may not list uploads nor mint tokens", async () => {
    const headers = { authorization: `Bearer ${await idpToken()}` };
    expectErrorEnvelope(await call(gw.app, "GET", uploads(), { headers }), 403, "TOKEN_NOT_ALLOWED");
    expectErrorEnvelope(
      await call(gw.app, "POST", `/api/projects/${gw.projectId}/upload-tokens`, { headers }),
      403,
      "TOKEN_NOT_ALLOWED",
    );
  });

  it("refuse other projects: not named 403, none named 403, unknown 404", async () => {
    expectErrorEnvelope(await start(await idpToken(), gw.restrictedProjectId), 403, "FORBIDDEN");
    expectErrorEnvelope(await start(await idpToken({ projects: [] })), 403, "FORBIDDEN");
    expectErrorEnvelope(await start(await idpToken({ projects: 42 })), 403, "FORBIDDEN");
    expectErrorEnvelope(await start(await idpToken(), "nope"), 404, "PROJECT_NOT_FOUND");
  });

  it("allow 30 s of clock leeway, and no more: expired 60 s ago is 401 TOKEN_EXPIRED", async () => {
    expect((await start(await idpToken({ expiresIn: -10 }))).status).toBe(200);
    expectErrorEnvelope(await start(await idpToken({ expiresIn: -60 })), 401, "TOKEN_EXPIRED");
  });

  it("refuse a wrong issuer or audience, an unknown key, HS256 with the public key as secret, and alg none (401)", async () => {
    const stranger = await generateKeyPair("ES256");
    const hmacWithPublicKey = await new SignJWT({ upload_gateway_projects: [gw.projectId] })
      .setProtectedHeader({ alg: "HS256", kid: "idp-1" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject("mallory")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(JSON.stringify(publicJwk)));
    const [, payload] = (await idpToken()).split(".");
    const none = `${Buffer.from(JSON.stringify({ alg: "none", kid: "idp-1" })).toString("base64url")}.${payload}.`;
    const refused = {
      "wrong issuer": await idpToken({ iss: "https://evil.example.test/" }),
      "wrong audience": await idpToken({ aud: "another-app" }),
      "unknown key, known kid": await idpToken({ key: stranger.privateKey }),
      "unknown kid": await idpToken({ key: stranger.privateKey, kid: "idp-2" }),
      "HS256 with the public key": hmacWithPublicKey,
      "alg none": none,
    };
    for (const [what, token] of Object.entries(refused)) {
      const reply = await start(token);
      expect(reply.status, `${what}: ${JSON.stringify(reply.body)}`).toBe(401);
      expectErrorEnvelope(reply, 401, "UNAUTHORIZED");
    }
  });

  it("answer 503 IDENTITY_PROVIDER_UNAVAILABLE (retryable) when the key set cannot be fetched", async () => {
    const closedPort = await freePort();
    const down = await startGateway(
      {
        AUTH_JWKS_URL: `http://127.0.0.1:${closedPort}/jwks.json`,
        AUTH_JWT_ISSUER: ISSUER,
        AUTH_JWT_AUDIENCE: AUDIENCE,
      },
      "local",
    );
    try {
      const reply = await call(down.app, "POST", `/api/projects/${down.projectId}/uploads/multipart`, {
        headers: { authorization: `Bearer ${await idpToken({ projects: [down.projectId] })}` },
        body: { partsNumber: 1, fileName: "a.mp4", contentLength: 10, mimeType: "video/mp4" },
      });
      expectErrorEnvelope(reply, 503, "IDENTITY_PROVIDER_UNAVAILABLE");
      expect(reply.body.errorDetails[0].retryable).toBe(true);
    } finally {
      await down.close();
    }
  });
});
