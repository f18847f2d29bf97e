import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT, base64url, decodeJwt } from "jose";
import { call, expectErrorEnvelope } from "./support/http";
import { startGateway, type TestGateway } from "./support/gateway";

/**
 * Upload tokens (issue 11): minted with an API key, accepted on the project's upload routes only, for the uploads they
 * started only, within their constraints, and never a second past their expiry. Everything a token may not do is a
 * clean 4xx in the envelope. (An identity provider's tokens: upload-tokens-idp.e2e.test.ts.)
 */

const SIGNING = `signing-${randomBytes(24).toString("hex")}`;
const RETIRING = `retiring-${randomBytes(24).toString("hex")}`;

let gw: TestGateway;
let base: string;
beforeAll(async () => {
  // Two keys: "new" signs, "old" (being rotated out) still verifies.
  gw = await startGateway({ UPLOAD_TOKEN_KEYS: `new:${SIGNING},old:${RETIRING}` }, "local");
  base = (await gw.app.getUrl()).replace("[::1]", "127.0.0.1");
});
afterAll(async () => {
  await gw?.close();
});

const tokensPath = (projectId: string) => `/api/projects/${projectId}/upload-tokens`;
const uploadsPath = (projectId: string) => `/api/projects/${projectId}/uploads`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function mint(
  body?: Record<string, unknown>,
  projectId = gw.projectId,
): Promise<{ token: string; expiresAt: string }> {
  const reply = await call(gw.app, "POST", tokensPath(projectId), { headers: gw.auth, ...(body ? { body } : {}) });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body.result;
}

const fileBody = (overrides: Record<string, unknown> = {}) => ({
  partsNumber: 1,
  fileName: "clip.mp4",
  contentLength: 11,
  mimeType: "video/mp4",
  ...overrides,
});

function start(
  token: string,
  overrides: Record<string, unknown> = {},
  headers: Record<string, string> = {},
  projectId = gw.projectId,
) {
  return call(gw.app, "POST", `${uploadsPath(projectId)}/multipart`, {
    headers: { ...bearer(token), ...headers },
    body: fileBody(overrides),
  });
}

/** Every route that acts on one upload, as `token` calls it on `requestKey`. */
function routesOn(token: string, requestKey: string) {
  const p = uploadsPath(gw.projectId);
  const headers = bearer(token);
  return {
    get: () => call(gw.app, "GET", `${p}/${requestKey}`, { headers }),
    resume: () => call(gw.app, "POST", `${p}/multipart-resume`, { headers, body: { requestKey } }),
    complete: () =>
      call(gw.app, "PUT", `${p}/multipart-complete`, {
        headers,
        body: { requestKey, parts: [{ partNumber: 1, eTag: "x" }] },
      }),
    abort: () => call(gw.app, "PUT", `${p}/multipart-abort`, { headers, body: { requestKey } }),
    download: () => call(gw.app, "POST", `${p}/success/${requestKey}`, { headers }),
  };
}

/** A token the gateway would mint, signed here: for forgeries and for the key being rotated out. */
function sign(claims: Record<string, unknown>, kid: string, secret: string, expiresIn = 600) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ project: gw.projectId, constraints: {}, ...claims })
    .setProtectedHeader({ alg: "HS256", kid, typ: "JWT" })
    .setIssuer(typeof claims.iss === "string" ? claims.iss : "upload-gateway")
    .setAudience("upload-gateway:upload")
    .setJti(randomBytes(8).toString("hex"))
    .setIssuedAt(now)
    .setExpirationTime(now + expiresIn)
    .sign(new TextEncoder().encode(secret));
}

describe("minting", () => {
  it("mints a token with the API key: a signed JWT for the project, 15 minutes by default or as asked", async () => {
    const before = Date.now();
    const { token, expiresAt } = await mint();
    const after = Date.now();
    // At least the 900 s asked for, and less than a second more (the expiry is a whole second, rounded up).
    expect(Date.parse(expiresAt)).toBeGreaterThanOrEqual(before + 900_000);
    expect(Date.parse(expiresAt)).toBeLessThan(after + 901_000);
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ project: gw.projectId, iss: "upload-gateway", exp: Date.parse(expiresAt) / 1000 });
    const short = await mint({ expiresInSeconds: 60, maxFileSize: 1000, allowedMimeTypes: ["video/*"], maxUploads: 2 });
    expect(Date.parse(short.expiresAt) - Date.now()).toBeLessThan(61_000);
    expect(decodeJwt(short.token).constraints).toEqual({
      maxFileSize: 1000,
      allowedMimeTypes: ["video/*"],
      maxUploads: 2,
    });
  });

  it.each([
    [{ expiresInSeconds: 0 }, "expiresInSeconds"],
    [{ expiresInSeconds: 86_401 }, "expiresInSeconds"],
    [{ expiresInSeconds: 1.5 }, "expiresInSeconds"],
    [{ expiresInSeconds: "60" }, "expiresInSeconds"],
    [{ maxFileSize: 0 }, "maxFileSize"],
    [{ maxUploads: -1 }, "maxUploads"],
    [{ allowedMimeTypes: [] }, "allowedMimeTypes"],
    [{ allowedMimeTypes: ["video"] }, "allowedMimeTypes.0"],
    [{ subject: "a\u0000b" }, "subject"],
    [{ maxFileSise: 10 }, ""],
  ])("refuses %j with 400 naming the field", async (body, field) => {
    const reply = await call(gw.app, "POST", tokensPath(gw.projectId), { headers: gw.auth, body });
    expectErrorEnvelope(reply, 400, "VALIDATION_FAILED");
    expect(JSON.stringify(reply.body.errorDetails)).toContain(field);
  });

  it("needs a valid API key of the project: none 401, another project's 403, an unknown project 404", async () => {
    expectErrorEnvelope(await call(gw.app, "POST", tokensPath(gw.projectId)), 401, "UNAUTHORIZED");
    expectErrorEnvelope(
      await call(gw.app, "POST", tokensPath(gw.projectId), { headers: bearer("wrong") }),
      401,
      "UNAUTHORIZED",
    );
    expectErrorEnvelope(
      await call(gw.app, "POST", tokensPath(gw.foreignProjectId), { headers: gw.auth }),
      403,
      "FORBIDDEN",
    );
    expectErrorEnvelope(await call(gw.app, "POST", tokensPath("nope"), { headers: gw.auth }), 404, "PROJECT_NOT_FOUND");
  });

  it("a token can neither mint tokens nor list the project's uploads (403 TOKEN_NOT_ALLOWED)", async () => {
    const { token } = await mint();
    expectErrorEnvelope(
      await call(gw.app, "POST", tokensPath(gw.projectId), { headers: bearer(token) }),
      403,
      "TOKEN_NOT_ALLOWED",
    );
    expectErrorEnvelope(
      await call(gw.app, "GET", uploadsPath(gw.projectId), { headers: bearer(token) }),
      403,
      "TOKEN_NOT_ALLOWED",
    );
  });
});

describe("using a token", () => {
  it("uploads with a token alone: start, part, status, resume, complete, download — bytes identical", async () => {
    const { token } = await mint();
    const bytes = randomBytes(4096);
    const started = await start(token, { contentLength: bytes.length });
    expect(started.status).toBe(200);
    const { requestKey, presignedUrl } = started.body.result;
    const put = await fetch(presignedUrl[0].presignedUrl, { method: "PUT", body: bytes });
    const routes = routesOn(token, requestKey);
    expect((await routes.get()).body.result).toMatchObject({ state: "uploading", uploadedParts: [{ partNumber: 1 }] });
    expect((await routes.resume()).body.result.uploadedParts).toHaveLength(1);
    const done = await call(gw.app, "PUT", `${uploadsPath(gw.projectId)}/multipart-complete`, {
      headers: bearer(token),
      body: { requestKey, parts: [{ partNumber: 1, eTag: put.headers.get("etag") }] },
    });
    expect(done.body).toMatchObject({ success: true, result: true });
    const download = await routes.download();
    expect(download.status).toBe(200);
    const got = Buffer.from(await (await fetch(new URL(download.body.result.downloadPath, base))).arrayBuffer());
    expect(createHash("sha256").update(got).digest("hex")).toBe(createHash("sha256").update(bytes).digest("hex"));
    // The project's API key still sees and acts on everything, the token's upload included.
    const listed = await call(gw.app, "GET", uploadsPath(gw.projectId), { headers: gw.auth });
    expect(listed.body.result.uploads.map((u: { requestKey: string }) => u.requestKey)).toContain(requestKey);
  });

  it("acts only on the uploads it started: the key's, and another token's, answer 404 on every route", async () => {
    const { token } = await mint();
    const { token: other } = await mint();
    const byKey = await call(gw.app, "POST", `${uploadsPath(gw.projectId)}/multipart`, {
      headers: gw.auth,
      body: fileBody(),
    });
    const byOther = await start(other);
    for (const requestKey of [
      byKey.body.result.requestKey,
      byOther.body.result.requestKey,
      "0000000000000AAAAAAAAAAAAAAAAAAAAAAA",
      "junk",
    ]) {
      for (const [route, send] of Object.entries(routesOn(token, requestKey))) {
        const reply = await send();
        expect(reply.status, `${route} ${requestKey}`).toBe(404);
        expect(reply.body.errorDetails[0].code).toBe("UPLOAD_NOT_FOUND");
      }
    }
    // Nothing was changed on the way: both uploads are still in progress.
    expect((await routesOn(other, byOther.body.result.requestKey).get()).body.result.state).toBe("uploading");
    expect(
      (await call(gw.app, "GET", `${uploadsPath(gw.projectId)}/${byKey.body.result.requestKey}`, { headers: gw.auth }))
        .body.result.state,
    ).toBe("uploading");
  });

  it("tokens minted for the same subject share their uploads: a fresh token finishes what an expired one started", async () => {
    const subject = `user-${randomBytes(4).toString("hex")}`;
    const first = await mint({ subject, expiresInSeconds: 2 });
    const started = await start(first.token);
    expect(started.status).toBe(200);
    const { requestKey } = started.body.result;
    await sleepUntil(Date.parse(first.expiresAt) + 50);
    expectErrorEnvelope(await routesOn(first.token, requestKey).get(), 401, "TOKEN_EXPIRED");
    const second = await mint({ subject });
    expect((await routesOn(second.token, requestKey).get()).body.result.state).toBe("uploading");
    expect((await routesOn(second.token, requestKey).abort()).body.result).toBe(true);
    const stranger = await mint({ subject: `${subject}-2` });
    expectErrorEnvelope(await routesOn(stranger.token, requestKey).get(), 404, "UPLOAD_NOT_FOUND");
  });

  it("an Idempotency-Key replay hands a token only its own start (another owner's same key and body is 422)", async () => {
    const { token } = await mint();
    const { token: other } = await mint();
    const key = `idem-${randomBytes(8).toString("hex")}`;
    const first = await start(token, {}, { "idempotency-key": key });
    const again = await start(token, {}, { "idempotency-key": key });
    expect(again.body.result.requestKey).toBe(first.body.result.requestKey);
    expectErrorEnvelope(await start(other, {}, { "idempotency-key": key }), 422, "IDEMPOTENCY_KEY_REUSED");
    const byKey = await call(gw.app, "POST", `${uploadsPath(gw.projectId)}/multipart`, {
      headers: { ...gw.auth, "idempotency-key": key },
      body: fileBody(),
    });
    expectErrorEnvelope(byKey, 422, "IDEMPOTENCY_KEY_REUSED");
  });

  it("starts single-PUT uploads too (POST /url), within its constraints, owned like multipart ones", async () => {
    const { token } = await mint({ maxFileSize: 100, maxUploads: 1 });
    const url = `${uploadsPath(gw.projectId)}/url`;
    const body = { fileName: "small.mp4", mimeType: "video/mp4", contentLength: 11 };
    expectErrorEnvelope(
      await call(gw.app, "POST", url, { headers: bearer(token), body: { ...body, contentLength: 101 } }),
      413,
      "FILE_TOO_LARGE",
    );
    const started = await call(gw.app, "POST", url, { headers: bearer(token), body });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const { requestKey, url: putUrl, headers } = started.body.result;
    expect((await fetch(putUrl, { method: "PUT", body: "hello token", headers })).status).toBe(200);
    expect((await routesOn(token, requestKey).download()).status).toBe(200);
    expectErrorEnvelope(
      await call(gw.app, "POST", url, { headers: bearer(token), body }),
      403,
      "TOKEN_UPLOAD_LIMIT_REACHED",
    );
    const { token: other } = await mint();
    expectErrorEnvelope(await routesOn(other, requestKey).download(), 404, "UPLOAD_NOT_FOUND");
  });

  it("works on its own project only: another existing project 403, an unknown one 404, as API keys", async () => {
    const { token } = await mint();
    // The restricted project is one the minting key may use too: the token still may not.
    expectErrorEnvelope(await start(token, {}, {}, gw.restrictedProjectId), 403, "FORBIDDEN");
    expectErrorEnvelope(await start(token, {}, {}, gw.foreignProjectId), 403, "FORBIDDEN");
    expectErrorEnvelope(await start(token, {}, {}, "nope"), 404, "PROJECT_NOT_FOUND");
  });
});

describe("expiry", () => {
  it("is refused with 401 TOKEN_EXPIRED from the second of its expiresAt: no clock leeway", async () => {
    const askedAt = Date.now();
    const { token, expiresAt } = await mint({ expiresInSeconds: 2 });
    // It lives at least the seconds asked for (JWT times are whole seconds: the expiry is rounded up, not down).
    expect(Date.parse(expiresAt)).toBeGreaterThanOrEqual(askedAt + 2000);
    expect((await start(token)).status).toBe(200);
    await sleepUntil(Date.parse(expiresAt) + 20);
    const reply = await start(token);
    expectErrorEnvelope(reply, 401, "TOKEN_EXPIRED");
    expect(reply.body.errorDetails[0].retryable).toBe(false);
  });
});

describe("constraints", () => {
  it("holds a start to the token's maxFileSize and allowedMimeTypes, on top of the project's rules", async () => {
    const { token } = await mint({ maxFileSize: 10, allowedMimeTypes: ["video/*", "image/png"] });
    const tooBig = await start(token, { contentLength: 11 });
    expectErrorEnvelope(tooBig, 413, "FILE_TOO_LARGE");
    expect(tooBig.body.errors[0]).toMatch(/contentLength.*upload token allows at most 10/);
    const wrongType = await start(token, { contentLength: 10, mimeType: "image/jpeg" });
    expectErrorEnvelope(wrongType, 415, "MIME_TYPE_NOT_ALLOWED");
    expect(wrongType.body.errors[0]).toContain("video/*, image/png");
    expect((await start(token, { contentLength: 10, mimeType: "VIDEO/webm" })).status).toBe(200);
    expect((await start(token, { contentLength: 10, mimeType: "image/png" })).status).toBe(200);
  });

  it("counts maxUploads in the store: of starts racing for the last places exactly that many win; failed starts do not count", async () => {
    const { token } = await mint({ maxUploads: 3, maxFileSize: 100 });
    expectErrorEnvelope(await start(token, { contentLength: 101 }), 413, "FILE_TOO_LARGE"); // refused: not counted
    const replies = await Promise.all(Array.from({ length: 8 }, () => start(token)));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(3);
    for (const refused of replies.filter((r) => r.status !== 200))
      expectErrorEnvelope(refused, 403, "TOKEN_UPLOAD_LIMIT_REACHED");
    // Another token has its own count.
    const { token: fresh } = await mint({ maxUploads: 1 });
    expect((await start(fresh)).status).toBe(200);
    expectErrorEnvelope(await start(fresh), 403, "TOKEN_UPLOAD_LIMIT_REACHED");
  });
});

describe("signatures and keys", () => {
  it("accepts a token signed with a key being rotated out (not the first of UPLOAD_TOKEN_KEYS)", async () => {
    const token = await sign({}, "old", RETIRING);
    expect((await start(token)).status).toBe(200);
    expect(decodeJwt((await mint()).token)).toBeTruthy();
    const [header] = (await mint()).token.split(".");
    expect(JSON.parse(Buffer.from(header!, "base64url").toString())).toMatchObject({ alg: "HS256", kid: "new" });
  });

  it("refuses forged and altered tokens with 401: wrong secret, unknown kid, no kid, altered claims, alg none, another issuer", async () => {
    const { token } = await mint();
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    const encode = (value: unknown) => base64url.encode(JSON.stringify(value));
    const forgeries: Record<string, string> = {
      "wrong secret": await sign({}, "new", `x${SIGNING}`),
      "unknown kid": await sign({}, "other", SIGNING),
      "no kid": await new SignJWT({ project: gw.projectId })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuer("upload-gateway")
        .setAudience("upload-gateway:upload")
        .setJti("j")
        .setIssuedAt()
        .setExpirationTime("10m")
        .sign(new TextEncoder().encode(SIGNING)),
      "altered project": `${header}.${encode({ ...claims, project: gw.restrictedProjectId })}.${signature}`,
      "altered expiry": `${header}.${encode({ ...claims, exp: claims.exp + 3600 })}.${signature}`,
      "altered constraints": `${header}.${encode({ ...claims, constraints: { maxUploads: 10_000 } })}.${signature}`,
      "alg none": `${encode({ alg: "none", typ: "JWT" })}.${payload}.`,
      "alg none, kid": `${encode({ alg: "none", kid: "new" })}.${payload}.`,
      "alg HS512": `${encode({ alg: "HS512", kid: "new" })}.${payload}.${signature}`,
      "another issuer": await sign({ iss: "someone-else" }, "new", SIGNING),
      "no signature": `${header}.${payload}.`,
      "not JSON": `${base64url.encode("{")}.${payload}.${signature}`,
    };
    for (const [what, forged] of Object.entries(forgeries)) {
      const reply = await start(forged);
      expect(reply.status, `${what}: ${JSON.stringify(reply.body)}`).toBe(401);
      expectErrorEnvelope(reply, 401, "UNAUTHORIZED");
      expect(JSON.stringify(reply.body)).not.toContain(forged);
    }
    expect((await start(token)).status).toBe(200); // the original still works
  });

  it("answers hostile bearers with a clean 401 in the envelope, never a 500", async () => {
    const { token } = await mint();
    const hostile = [
      "x".repeat(100 * 1024),
      `${token}${"A".repeat(100 * 1024)}`,
      `a.${"b".repeat(100 * 1024)}.c`,
      "a.b.c",
      "..",
      "\u0001\u0002.\u0003.\u0004",
      `${token.slice(0, 20)}\u0007${token.slice(20)}`,
      "eyJhbGciOiJIUzI1NiJ9.eyJ9.x",
      `${base64url.encode(JSON.stringify({ alg: "HS256", kid: { toString: 1 } }))}.e30.x`,
    ];
    for (const value of hostile) {
      const reply = await call(gw.app, "POST", `${uploadsPath(gw.projectId)}/multipart`, {
        headers: { authorization: `Bearer ${value}` },
        body: fileBody(),
      });
      expectErrorEnvelope(reply, 401, "UNAUTHORIZED");
    }
  });
});

describe("a gateway with no signing key", () => {
  it("with S3 and no UPLOAD_TOKEN_KEYS offers no tokens: 501 UPLOAD_TOKENS_NOT_CONFIGURED, and refuses tokens with 401", async () => {
    const s3 = await startGateway();
    try {
      const reply = await call(s3.app, "POST", tokensPath(s3.projectId), { headers: s3.auth });
      expectErrorEnvelope(reply, 501, "UPLOAD_TOKENS_NOT_CONFIGURED");
      // It tells the operator what to set, not the page to use an API key.
      expect(reply.body.errorDetails[0].message).toMatch(/Set UPLOAD_TOKEN_KEYS=kid:secret .*at least 32 bytes/);
      expect(reply.body.errorDetails[0].message).not.toMatch(/API key/);
      const { token } = await mint();
      const refused = await call(s3.app, "GET", `${uploadsPath(s3.projectId)}/0000000000000AAAAAAAAAAAAAAAAAAAAAAA`, {
        headers: bearer(token),
      });
      expectErrorEnvelope(refused, 401, "UNAUTHORIZED");
    } finally {
      await s3.close();
    }
  });
});

async function sleepUntil(time: number): Promise<void> {
  const wait = time - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}
