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
  keyName: string;
}

/** A verified token on the project of the request (checked against its `projects`). */
export interface TokenPrincipal extends Pick<VerifiedToken, "issuer" | "owner" | "tokenId" | "constraints" | "expiresAt"> {
  kind: "token";
  project: Project;
}

/** The bucket a principal's requests are rate-limited in: per API key, or per token owner. */
export function rateLimitIdentity(principal: Principal): string {
  return principal.kind === "apiKey" ? `key:${principal.keyName}` : `token:${principal.owner}`;
}

/** The caller as the access log names it: the API key's name, or the token's id; never the credential itself. */
export function callerOf(principal: Principal): Caller {
  if (principal.kind === "apiKey") return { keyName: principal.keyName };
  return principal.tokenId === undefined ? { token: true } : { tokenId: principal.tokenId };
}
