import type { UploadTokenConstraints } from "@upload-gateway/contract";
import type { Project } from "./projects-file";

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

export interface TokenPrincipal {
  kind: "token";
  project: Project;
  /** Which kind of token: minted by this gateway, or signed by the configured identity provider. */
  issuer: "gateway" | "identity-provider";
  /**
   * Whose uploads the token acts on, as recorded on the uploads it starts: the token's own id, or the subject it was
   * minted for (so that a fresh token for the same subject continues an expired one's uploads).
   */
  owner: string;
  /** The token's `jti`: what its `maxUploads` is counted against. */
  tokenId?: string;
  constraints: UploadTokenConstraints;
  expiresAt: Date;
}

/** The bucket a principal's requests are rate-limited in: per API key, or per token owner. */
export function rateLimitIdentity(principal: Principal): string {
  return principal.kind === "apiKey" ? `key:${principal.keyName}` : `token:${principal.owner}`;
}
