import { createHash } from "node:crypto";
import type { Caller } from "../observability/access-log";
import type { Project } from "./projects-file";
import type { VerifiedToken } from "./verified-token";

/**
 * Who is calling, once authenticated on a project. An API key may do everything on its projects; a token (the
 * gateway's own upload token or an identity provider's JWT) may only start uploads, within its constraints, and act
 * on the uploads it (or its `owner`) started.
 */
export type Principal = ApiKeyPrincipal | TokenPrincipal;

export interface ApiKeyPrincipal {
  kind: "apiKey";
  project: Project;
  /** The key's name in the projects file: for people reading logs, never to tell keys apart. */
  keyName: string;
  /** Which key it is: derived from its digest (`apiKeyId`), the same for every request with that key. */
  keyId: string;
}

/** A verified token on the project of the request (checked against its `projects`). */
export interface TokenPrincipal extends Pick<
  VerifiedToken,
  "issuer" | "owner" | "subject" | "mintedBy" | "tokenId" | "constraints" | "expiresAt"
> {
  kind: "token";
  project: Project;
}

/** The `keyId` of every caller an embedding app's `AuthResolver` lets in (the gateway cannot tell them apart). */
export const RESOLVER_KEY_ID = "resolver";

/**
 * An API key's id from its SHA-256 (as the projects file lists it): one-way again, so that what ends up in upload
 * tokens (readable by whoever holds one) and in a shared rate-limit store says nothing more about the key.
 */
export function apiKeyId(keyDigest: string): string {
  return createHash("sha256").update(`upload-gateway api key\n${keyDigest}`).digest("base64url").slice(0, 22);
}

/**
 * The bucket a principal's requests are rate-limited in: per API key (its id, never its name: names need not tell
 * keys apart), per token subject (all the tokens minted for one subject, or an identity provider's user), and for
 * upload tokens minted without a subject, per minting key: however many such tokens a key mints, they share one
 * budget, apart from the key's own calls (so browsers holding them cannot starve the backend that mints them).
 */
export function rateLimitIdentity(principal: Principal): string {
  if (principal.kind === "apiKey") return `key:${principal.keyId}`;
  if (principal.subject === undefined && principal.mintedBy !== undefined) return `tokens-of-key:${principal.mintedBy}`;
  return `token:${principal.owner}`;
}

/** The caller as the access log names it: the API key's name, or the token's id; never the credential itself. */
export function callerOf(principal: Principal): Caller {
  if (principal.kind === "apiKey") return { keyName: principal.keyName };
  return principal.tokenId === undefined ? { token: true } : { tokenId: principal.tokenId };
}
