import type { IncomingHttpHeaders } from "node:http";
import { Inject, Injectable, Optional } from "@nestjs/common";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { ApiError } from "../errors/api-error";
import { noteCaller } from "../observability/access-log";
import type { AuthRequestToken, AuthResolver } from "./auth-resolver";
import { AUTH_RESOLVER } from "../tokens";
import { IdentityProviderVerifier } from "./identity-provider.verifier";
import { apiKeyId, callerOf, RESOLVER_KEY_ID, type Principal } from "./principal";
import { ProjectRegistry, bearerToken } from "./project-registry";
import { PROJECT_ID, type Project } from "./projects-file";
import { GATEWAY_ISSUER, GATEWAY_TOKEN_ALGORITHM, UploadTokens } from "./upload-tokens.service";
import type { VerifiedToken } from "./verified-token";

/** Compact JWS: three base64url segments. Anything else in a bearer is taken for an API key only. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** Longer bearers are refused unread: no real token comes close, and parsing costs. */
const MAX_TOKEN_LENGTH = 8192;

/** A request as the authenticator reads it: its headers (and, for a resolver, the whole framework request). */
export type AuthenticatedRequest = object & { headers: IncomingHttpHeaders };

/**
 * Decides who a request's `Authorization: Bearer …` is, on the project of its path: an API key of the projects file,
 * one of the gateway's upload tokens, or an identity provider's JWT. Throws the API error to answer otherwise: 401
 * `UNAUTHORIZED` (nothing valid; an expired token: `TOKEN_EXPIRED`), 404 `PROJECT_NOT_FOUND`, 403 `FORBIDDEN` (valid, for
 * other projects) — in that order, as for API keys.
 *
 * With an embedding app's `AuthResolver`, the resolver decides in place of API keys; tokens the gateway issued (or the
 * configured identity provider signed, by their `iss`) are still verified here, and the resolver gives their project.
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
    @Optional() @Inject(AUTH_RESOLVER) private readonly resolver: AuthResolver | null = null,
  ) {}

  /** The principal of `request` on `projectId`, decided once per request. */
  authenticateRequest(request: AuthenticatedRequest, projectId: string): Promise<Principal> {
    const known = this.decided.get(request);
    if (known && known.projectId === projectId) return known.principal;
    const principal = this.resolver
      ? this.authenticateWithResolver(request, projectId)
      : this.authenticate(request.headers.authorization, projectId);
    // Also handles the rejection: a caller that only peeks (the rate limit) must not leave it unhandled.
    void principal.then(
      (decided) => noteCaller(request, callerOf(decided)),
      () => undefined,
    );
    this.decided.set(request, { projectId, principal });
    return principal;
  }

  private async authenticate(authorization: string | undefined, projectId: string): Promise<Principal> {
    const bearer = bearerToken(authorization);
    if (bearer === undefined) throw new ApiError({ code: "UNAUTHORIZED" });
    const byKey = this.registry.authorize(authorization, projectId);
    if (byKey.ok)
      return { kind: "apiKey", project: byKey.project, keyName: byKey.keyName, keyId: apiKeyId(byKey.keyDigest) };
    if (byKey.code !== "UNAUTHORIZED") throw projectError(byKey.code, projectId);
    if (!looksLikeJws(bearer)) throw new ApiError({ code: "UNAUTHORIZED" });

    const token = await this.verify(bearer);
    const project = this.registry.project(projectId);
    if (!project) throw projectError("PROJECT_NOT_FOUND", projectId);
    if (!token.projects.includes(projectId)) throw projectError("FORBIDDEN", projectId);
    return { kind: "token", project, ...token };
  }

  private async authenticateWithResolver(request: AuthenticatedRequest, projectId: string): Promise<Principal> {
    const bearer = bearerToken(request.headers.authorization);
    if (bearer === undefined || !this.isOurs(bearer)) {
      return {
        kind: "apiKey",
        project: await this.resolve(request, projectId),
        keyName: "(resolver)",
        keyId: RESOLVER_KEY_ID,
      };
    }
    const token = await this.verify(bearer);
    // Before the resolver: it is never asked about a project the token does not name.
    if (!token.projects.includes(projectId)) throw projectError("FORBIDDEN", projectId);
    const seen: AuthRequestToken = {
      issuer: token.issuer,
      expiresAt: token.expiresAt,
      ...(token.subject === undefined ? {} : { subject: token.subject }),
    };
    return { kind: "token", project: await this.resolve(request, projectId, seen), ...token };
  }

  /**
   * Whether a bearer is a token this gateway verifies, by its (not yet verified) issuer: its own upload tokens, or the
   * identity provider's JWTs. Any other bearer, a JWT of the app's own sessions included, is the resolver's.
   */
  private isOurs(bearer: string): boolean {
    if (!looksLikeJws(bearer)) return false;
    let issuer: unknown;
    try {
      issuer = decodeJwt(bearer).iss;
    } catch {
      return false;
    }
    return (
      (issuer === GATEWAY_ISSUER && this.uploadTokens.enabled) ||
      (issuer !== undefined && issuer === this.identityProvider.issuer)
    );
  }

  /** The embedding app's own decision (see `AuthResolver`), held to the same rules as a projects file's entries. */
  private async resolve(request: AuthenticatedRequest, projectId: string, token?: AuthRequestToken): Promise<Project> {
    const project = await this.resolver!({
      projectId,
      headers: request.headers,
      raw: request,
      ...(token ? { token } : {}),
    });
    if (!project) throw new ApiError({ code: "UNAUTHORIZED" });
    // The project id becomes part of storage keys: a resolver answering another project (or an unsafe id) is refused
    // rather than trusted with another project's prefix.
    if (project.id !== projectId || !PROJECT_ID.test(project.id)) throw new ApiError({ code: "FORBIDDEN" });
    return project;
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

function looksLikeJws(bearer: string): boolean {
  return bearer.length <= MAX_TOKEN_LENGTH && COMPACT_JWS.test(bearer);
}

function projectError(code: "PROJECT_NOT_FOUND" | "FORBIDDEN", projectId: string): ApiError {
  return code === "PROJECT_NOT_FOUND"
    ? new ApiError({ code, field: "projectId", message: `no project "${projectId}"` })
    : new ApiError({ code });
}
