import { describe, expect, it } from "vitest";
import { apiKeyId, rateLimitIdentity, type Principal } from "./principal";
import { sha256Hex } from "./project-registry";

const project = { id: "films" };
const key = (keyName: string, secret: string): Principal => ({
  kind: "apiKey",
  project,
  keyName,
  keyId: apiKeyId(sha256Hex(secret)),
});
const token = (fields: { owner: string; subject?: string; mintedBy?: string }): Principal => ({
  kind: "token",
  project,
  issuer: "gateway",
  constraints: {},
  expiresAt: new Date(0),
  ...fields,
});

describe("rateLimitIdentity", () => {
  it("tells API keys apart by their digest, not their name", () => {
    expect(rateLimitIdentity(key("ci", "secret-1"))).not.toBe(rateLimitIdentity(key("ci", "secret-2")));
    expect(rateLimitIdentity(key("ci", "secret-1"))).toBe(rateLimitIdentity(key("renamed", "secret-1")));
  });

  it("counts tokens without a subject per minting key, with a subject per subject, apart from the keys' own calls", () => {
    const minter = apiKeyId(sha256Hex("secret-1"));
    const a = rateLimitIdentity(token({ owner: "token:jti-a", mintedBy: minter }));
    const b = rateLimitIdentity(token({ owner: "token:jti-b", mintedBy: minter }));
    expect(a).toBe(b);
    expect(a).not.toBe(rateLimitIdentity(key("ci", "secret-1")));
    expect(a).not.toBe(rateLimitIdentity(token({ owner: "token:jti-c", mintedBy: apiKeyId(sha256Hex("secret-2")) })));
    const alice = rateLimitIdentity(token({ owner: "subject:alice", subject: "alice", mintedBy: minter }));
    expect(alice).toBe(rateLimitIdentity(token({ owner: "subject:alice", subject: "alice", mintedBy: "another" })));
    expect(alice).not.toBe(a);
  });

  it("derives a key's id one way from its digest: the digest is not in it", () => {
    const digest = sha256Hex("secret-1");
    expect(apiKeyId(digest)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(apiKeyId(digest)).not.toContain(digest.slice(0, 8));
  });
});
