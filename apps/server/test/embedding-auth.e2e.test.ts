import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { FastifyAdapter, type NestFastifyApplication } from "@nestjs/platform-fastify";
import { SignJWT, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, type CryptoKey } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  ApiError,
  ConfigError,
  UploadGatewayModule,
  createUploadGateway,
  type AuthRequest,
  type UploadGatewayOptions,
} from "../src/index";
import { call, expectErrorEnvelope } from "./support/http";

/**
 * A platform team's auth, through the module's options: its own resolver decides API keys (here, keys it keeps
 * itself, and its own session JWTs), while the gateway verifies the upload tokens it mints (keys with a kid being
 * rotated) and an identity provider's JWTs (a JWKS on loopback). The resolver only gives a token's project rules.
 */

const OLD_SECRET = `old-${randomBytes(24).toString("hex")}`;
const NEW_SECRET = `new-${randomBytes(24).toString("hex")}`;
const APP_KEY = `app-${randomBytes(16).toString("hex")}`;
const ISSUER = "https://idp.example.test/";
const AUDIENCE = "media-uploads";
const APP_SESSION_SECRET = new TextEncoder().encode(randomBytes(32).toString("hex"));

let dir: string;
let app: NestFastifyApplication;
let jwks: Server;
let idpKey: CryptoKey;
/** What the resolver was asked, in order. */
const asked: AuthRequest[] = [];
/** Projects the app serves, and their rules. */
const served = new Map([
  ["films", { id: "films", allowedMimeTypes: ["video/*"] }],
  ["docs", { id: "docs" }],
]);

/** The platform's own decision: its API key, or its own session JWT; for a verified token, just the project's rules. */
async function resolve(request: AuthRequest) {
  asked.push(request);
  const project = served.get(request.projectId);
  if (request.token) {
    if (!project) throw new ApiError({ code: "PROJECT_NOT_FOUND", field: "projectId" });
    return project;
  }
  const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? "")?.[1];
  if (bearer === APP_KEY) return project ?? null;
  if (bearer?.startsWith("ey")) {
    const session = await jwtVerify(bearer, APP_SESSION_SECRET, { issuer: "media-app" }).catch(() => null);
    return session ? (project ?? null) : null;
  }
  return null;
}

function options(
  overrides: Partial<UploadGatewayOptions> = {},
  jwksUrl = "http://127.0.0.1:1/jwks.json",
): UploadGatewayOptions {
  return {
    storage: { type: "local", dir, fsync: false },
    publicUrl: "http://127.0.0.1:1",
    auth: {
      resolve,
      // The first signs; the second is being rotated out and still verifies.
      uploadTokens: {
        keys: [
          { kid: "2026-11", secret: NEW_SECRET },
          { kid: "2026-10", secret: OLD_SECRET },
        ],
      },
      identityProvider: { jwksUrl, issuer: ISSUER, audience: AUDIENCE, projectsClaim: "media_projects" },
    },
    ...overrides,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "gateway-embed-auth-"));
  const pair = await generateKeyPair("ES256");
  idpKey = pair.privateKey;
  const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: "idp-1", alg: "ES256", use: "sig" };
  jwks = createServer((_request, response) =>
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [publicJwk] })),
  );
  await new Promise<void>((done) => jwks.listen(0, "127.0.0.1", done));
  const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
  @Module({ imports: [UploadGatewayModule.forRoot({ path: "/media", ...options({}, jwksUrl) })] })
  class HostModule {}
  app = await NestFactory.create<NestFastifyApplication>(HostModule, new FastifyAdapter(), { logger: false });
  await app.init();
});
afterAll(async () => {
  await app?.close();
  await new Promise((done) => jwks?.close(done));
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  asked.length = 0;
});

const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });
const video = { partsNumber: 1, fileName: "clip.mp4", contentLength: "1000", mimeType: "video/mp4" };
const start = (credential: string, projectId = "films", body: object = video) =>
  call(app, "POST", `/media/api/projects/${projectId}/uploads/multipart`, { headers: bearer(credential), body });

async function mint(projectId = "films", body: object = { subject: "editor-7" }): Promise<string> {
  const reply = await call(app, "POST", `/media/api/projects/${projectId}/upload-tokens`, {
    headers: bearer(APP_KEY),
    body,
  });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body.result.token as string;
}

/** A token as the gateway mints them, signed here: with the key being rotated out, or already expired. */
function gatewayToken({ kid = "2026-10", secret = OLD_SECRET, project = "films", expiresIn = 600 } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ project, constraints: {} })
    .setProtectedHeader({ alg: "HS256", kid, typ: "JWT" })
    .setIssuer("upload-gateway")
    .setAudience("upload-gateway:upload")
    .setJti(randomBytes(8).toString("hex"))
    .setIssuedAt(now - 3600)
    .setExpirationTime(now + expiresIn)
    .sign(new TextEncoder().encode(secret));
}

function idpToken(projects: string[] = ["films"], sub = "alice") {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ media_projects: projects })
    .setProtectedHeader({ alg: "ES256", kid: "idp-1" })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(idpKey);
}

describe("UploadGatewayModule with a resolver for API keys and the gateway's upload tokens", () => {
  it("a token minted through POST /upload-tokens (resolver's key) starts an upload; the resolver gives only its project's rules", async () => {
    const token = await mint();
    // Signed by the first key of the options, not by a key generated in the data dir.
    expect(decodeProtectedHeader(token).kid).toBe("2026-11");
    expect(existsSync(join(dir, "upload-token-key"))).toBe(false);
    // Under the module's path, as all its routes: nothing at the app's root.
    expect(
      (await call(app, "POST", "/api/projects/films/upload-tokens", { headers: bearer(APP_KEY), body: {} })).status,
    ).toBe(404);
    asked.length = 0;
    const started = await start(token);
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({ projectId: "films", token: { issuer: "gateway", subject: "editor-7" } });
    // It is a token, not a key: it sees its own upload, and may not list the project's.
    const status = await call(app, "GET", `/media/api/projects/films/uploads/${started.body.result.requestKey}`, {
      headers: bearer(token),
    });
    expect(status.body.result.state).toBe("uploading");
    expectErrorEnvelope(
      await call(app, "GET", "/media/api/projects/films/uploads", { headers: bearer(token) }),
      403,
      "TOKEN_NOT_ALLOWED",
    );
    // The resolver's project rules hold for token starts as for its keys.
    expectErrorEnvelope(
      await start(token, "films", { ...video, fileName: "notes.pdf", mimeType: "application/pdf" }),
      415,
      "MIME_TYPE_NOT_ALLOWED",
    );
  });

  it("accepts a token signed with the key being rotated out (the second of uploadTokens.keys)", async () => {
    expect((await start(await gatewayToken())).status).toBe(200);
  });

  it("refuses an expired token with 401 TOKEN_EXPIRED, without asking the resolver", async () => {
    expectErrorEnvelope(
      await start(await gatewayToken({ kid: "2026-11", secret: NEW_SECRET, expiresIn: -5 })),
      401,
      "TOKEN_EXPIRED",
    );
    expect(asked).toEqual([]);
  });

  it("refuses another project's token with 403 FORBIDDEN, without asking the resolver about this project", async () => {
    const docsToken = await mint("docs");
    asked.length = 0;
    expectErrorEnvelope(await start(docsToken, "films"), 403, "FORBIDDEN");
    expect(asked).toEqual([]);
  });

  it("refuses a token signed with a key the options do not hold (401), and the resolver's 404 for a project it no longer serves", async () => {
    expectErrorEnvelope(
      await start(await gatewayToken({ kid: "2026-09", secret: `gone-${randomBytes(24).toString("hex")}` })),
      401,
      "UNAUTHORIZED",
    );
    expectErrorEnvelope(
      await start(await gatewayToken({ kid: "2026-11", secret: `forged-${randomBytes(24).toString("hex")}` })),
      401,
      "UNAUTHORIZED",
    );
    expectErrorEnvelope(await start(await gatewayToken({ project: "retired" }), "retired"), 404, "PROJECT_NOT_FOUND");
  });

  it("accepts the identity provider's JWTs on the projects of their claim, as their subject; others 403", async () => {
    const started = await start(await idpToken());
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect(asked.at(-1)).toMatchObject({
      projectId: "films",
      token: { issuer: "identity-provider", subject: "alice" },
    });
    asked.length = 0;
    expectErrorEnvelope(await start(await idpToken(["docs"])), 403, "FORBIDDEN");
    expect(asked).toEqual([]);
  });

  it("leaves every other bearer to the resolver: its API key, its own session JWTs (another issuer), and nonsense (401)", async () => {
    expect((await start(APP_KEY)).status).toBe(200);
    const session = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("media-app")
      .setExpirationTime("5m")
      .sign(APP_SESSION_SECRET);
    const bySession = await start(session);
    expect(bySession.status, JSON.stringify(bySession.body)).toBe(200);
    expect(asked.at(-1)!.token).toBeUndefined();
    expectErrorEnvelope(await start("nonsense"), 401, "UNAUTHORIZED");
    // A key of the resolver's may do what an API key does: list the project's uploads.
    expect((await call(app, "GET", "/media/api/projects/films/uploads", { headers: bearer(APP_KEY) })).status).toBe(
      200,
    );
  });
});

describe("auth options that cannot work", () => {
  const problemsOf = async (options: UploadGatewayOptions): Promise<string[]> => {
    const error = await createUploadGateway(options).then(
      async (gateway) => {
        await gateway.close();
        return undefined;
      },
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  };

  it("name the option, never the secret", async () => {
    const short = "s".repeat(31);
    const problems = await problemsOf(
      options({
        auth: {
          resolve,
          uploadTokens: {
            keys: [
              { kid: "a", secret: short },
              { kid: "bad kid", secret: NEW_SECRET },
              { kid: "a", secret: NEW_SECRET },
            ],
          },
          identityProvider: { jwksUrl: "http://idp.example.test/jwks.json", issuer: "", audience: AUDIENCE },
        },
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'auth.uploadTokens.keys[0]: the secret of "a" must be at least 32 bytes',
        "auth.uploadTokens.keys[1]: the kid must be 1–64 letters, digits, '.', '_' or '-'",
        'auth.uploadTokens.keys[2]: kid "a" is listed twice',
        "auth.identityProvider.jwksUrl: must be an https URL (http only on a loopback address)",
        "auth.identityProvider.issuer: is required with auth.identityProvider.jwksUrl",
      ]),
    );
    expect(problems.join("\n")).not.toContain(short);
    expect(problems.join("\n")).not.toContain(NEW_SECRET);
    expect(await problemsOf(options({ auth: { resolve, uploadTokens: { keys: [] } } }))).toEqual([
      "auth.uploadTokens.keys: must list at least one { kid, secret }",
    ]);
    // One source of API keys.
    expect(await problemsOf(options({ auth: { resolve, projects: { projects: [], apiKeys: [] } } as never }))).toEqual([
      "auth: must hold one of { projects }, { projectsFile } or { resolve }",
    ]);
  });
});
