import { Inject, Injectable } from "@nestjs/common";
import { decodeProtectedHeader } from "jose";
import { ApiError } from "../errors/api-error";
import { IdentityProviderVerifier } from "./identity-provider.verifier";
import type { Principal } from "./principal";
import { ProjectRegistry, bearerToken } from "./project-registry";
import { GATEWAY_TOKEN_ALGORITHM, UploadTokens } from "./upload-tokens.service";
import type { VerifiedToken } from "./verified-token";

/** Compact JWS: three base64url segments. Anything else in a bearer is taken for an API key only. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** Longer bearers are refused unread: no real token comes close, and parsing costs. */
const MAX_TOKEN_LENGTH = 8192;

/**
 * Decides who a request's `Authorization: Bearer …` is, on the project of its path: an API key of the projects file,
 * one of the gateway's upload tokens, or an identity provider's JWT. Throws the API error to answer otherwise: 401
 * `UNAUTHORIZED` (nothing valid; an expired token: `TOKEN_EXPIRED`), 404 `PROJECT_NOT_FOUND`, 403 `FORBIDDEN` (valid, for
 * other projects) — in that order, as for API keys.
 *
 * The decision is kept per request, so the rate limit (which runs first) and the guard verify a token once.
 */
@Injectable()
export class Authenticator {
  private readonly decided = new WeakMap<object, { projectId: string; principal: Promise<Principal> }>();

  constructor(
    @Inject(ProjectRegistry) private readonly registry: ProjectRegistry,
    @Inject(UploadTokens) private readonly uploadTokens: UploadTokens,
    @Inject(IdentityProviderVerifier) private readonly identityProvider: IdentityProviderVerifier,
  ) {}

  /** The principal of `request` on `projectId`, decided once per request. */
  authenticateRequest(request: { headers: { authorization?: string } }, projectId: string): Promise<Principal> {
    const known = this.decided.get(request);
    if (known && known.projectId === projectId) return known.principal;
    const principal = this.authenticate(request.headers.authorization, projectId);
    principal.catch(() => undefined); // a caller that only peeks (the rate limit) must not leave it unhandled
    this.decided.set(request, { projectId, principal });
    return principal;
  }

  async authenticate(authorization: string | undefined, projectId: string): Promise<Principal> {
    const bearer = bearerToken(authorization);
    if (bearer === undefined) throw new ApiError({ code: "UNAUTHORIZED" });
    const byKey = this.registry.authorize(authorization, projectId);
    if (byKey.ok) return { kind: "apiKey", project: byKey.project, keyName: byKey.keyName };
    if (byKey.code !== "UNAUTHORIZED") throw projectError(byKey.code, projectId);
    if (bearer.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(bearer)) throw new ApiError({ code: "UNAUTHORIZED" });

    const token = await this.verify(bearer);
    const project = this.registry.project(projectId);
    if (!project) throw projectError("PROJECT_NOT_FOUND", projectId);
    if (!token.projects.includes(projectId)) throw projectError("FORBIDDEN", projectId);
    return { kind: "token", project, ...token };
  }

  private verify(token: string): Promise<VerifiedToken> {
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new ApiError({ code: "UNAUTHORIZED", message: "The token is not a well-formed signed JWT." });
    }
    // The header picks the verifier, and each verifier accepts only its own algorithms: a token cannot choose a
    // weaker check than its issuer's.
    if (alg === GATEWAY_TOKEN_ALGORITHM || !this.identityProvider.enabled) return this.uploadTokens.verify(token);
    return this.identityProvider.verify(token);
  }
}

function projectError(code: "PROJECT_NOT_FOUND" | "FORBIDDEN", projectId: string): ApiError {
  return code === "PROJECT_NOT_FOUND"
    ? new ApiError({ code, field: "projectId", message: `no project "${projectId}"` })
    : new ApiError({ code });
}
