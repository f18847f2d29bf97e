import type { UploadTokenConstraints } from "@upload-gateway/contract";
import { errors } from "jose";
import { ApiError } from "../errors/api-error";

/** What a verified token grants, before it is checked against the project of the request. */
export interface VerifiedToken {
  /** Which kind of token: minted by this gateway, or signed by the configured identity provider. */
  issuer: "gateway" | "identity-provider";
  /** The projects it may be used on. */
  projects: string[];
  /**
   * Whose uploads the token acts on, as recorded on the uploads it starts: the token's own id, or the subject it was
   * minted for (so that a fresh token for the same subject continues an expired one's uploads).
   */
  owner: string;
  /** The token's `sub`, when it has one. */
  subject?: string;
  /**
   * For the gateway's own tokens, the `keyId` of the API key that minted it: tokens minted without a subject are
   * rate-limited together per minting key.
   */
  mintedBy?: string;
  /** The token's `jti`: what its `maxUploads` is counted against. */
  tokenId?: string;
  constraints: UploadTokenConstraints;
  expiresAt: Date;
}

/**
 * The API error for a token that failed verification. Expired tokens get `TOKEN_EXPIRED` (the client fetches a fresh
 * one); every other failure is a plain 401 whose sentence says what was wrong without echoing the token.
 */
export function tokenError(error: unknown, what: string): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof errors.JWTExpired)
    return new ApiError({ code: "TOKEN_EXPIRED", message: `The ${what} has expired; get a new one.` });
  const reason =
    error instanceof errors.JWSSignatureVerificationFailed
      ? "its signature does not verify"
      : error instanceof errors.JOSEAlgNotAllowed
        ? "it is not signed with an algorithm this gateway accepts"
        : error instanceof errors.JWKSNoMatchingKey
          ? "it is signed with a key the identity provider does not publish"
          : error instanceof errors.JWTClaimValidationFailed
            ? `its "${error.claim}" claim is not acceptable (${error.reason})`
            : "it is not a well-formed signed JWT";
  return new ApiError({ code: "UNAUTHORIZED", message: `The ${what} is not valid: ${reason}.` });
}
