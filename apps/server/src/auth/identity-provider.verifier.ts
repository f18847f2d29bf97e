import { Inject, Injectable, Logger } from "@nestjs/common";
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type JWTPayload } from "jose";
import { APP_CONFIG } from "../tokens";
import type { AppConfig } from "../config/app-config";
import { ApiError } from "../errors/api-error";
import { cappedJwksFetch, JwksRefusedError } from "./jwks-fetch";
import { tokenError, type VerifiedToken } from "./verified-token";

/** Asymmetric algorithms only: an HMAC would need a secret shared with the provider, and `none` is never accepted. */
const IDP_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
];
/** Clocks of two machines drift; the provider's tokens get this much leeway (the gateway's own get none). */
export const IDP_CLOCK_TOLERANCE_SECONDS = 30;

/**
 * Accepts an identity provider's JWTs (`AUTH_JWKS_URL`, `AUTH_JWT_ISSUER`, `AUTH_JWT_AUDIENCE`): signed by a key the
 * provider publishes, for this gateway's audience, naming the projects in `AUTH_JWT_PROJECTS_CLAIM` (a project id or a
 * list of them). Such a token acts as its subject (`sub`): it sees the uploads that subject started with any of its
 * tokens. The key set is cached and fetched again when a token names an unknown key (at most every 30 s). A key set
 * over 1 MiB or with over 100 keys is refused (see jwks-fetch.ts): its tokens get 503, API keys are not affected.
 */
@Injectable()
export class IdentityProviderVerifier {
  private readonly keySet: ReturnType<typeof createRemoteJWKSet> | undefined;
  private readonly logger = new Logger("IdentityProvider");

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    const fetchKeySet = cappedJwksFetch({ onRefused: (message) => this.logger.error(message) });
    this.keySet = config.AUTH_JWKS_URL
      ? createRemoteJWKSet(new URL(config.AUTH_JWKS_URL), { timeoutDuration: 5000, [customFetch]: fetchKeySet })
      : undefined;
  }

  get enabled(): boolean {
    return this.keySet !== undefined;
  }

  /** The `iss` of the provider's tokens, when one is configured. */
  get issuer(): string | undefined {
    return this.keySet ? this.config.AUTH_JWT_ISSUER : undefined;
  }

  async verify(token: string): Promise<VerifiedToken> {
    if (!this.keySet)
      throw new ApiError({ code: "UNAUTHORIZED", message: "The token is not one this gateway accepts." });
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keySet, {
        algorithms: IDP_ALGORITHMS,
        issuer: this.config.AUTH_JWT_ISSUER!,
        audience: this.config.AUTH_JWT_AUDIENCE!,
        clockTolerance: IDP_CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ["exp", "sub"],
      }));
    } catch (error) {
      if (error instanceof JwksRefusedError) {
        throw new ApiError({
          code: "IDENTITY_PROVIDER_UNAVAILABLE",
          message:
            "The identity provider's signing keys (AUTH_JWKS_URL) are refused by this gateway (too large); see its log.",
        });
      }
      if (isProviderUnreachable(error)) {
        throw new ApiError({ code: "IDENTITY_PROVIDER_UNAVAILABLE" });
      }
      throw tokenError(error, "identity provider's token");
    }
    const claim = payload[this.config.AUTH_JWT_PROJECTS_CLAIM];
    const projects =
      typeof claim === "string" ? [claim] : Array.isArray(claim) ? claim.filter((p) => typeof p === "string") : [];
    return {
      issuer: "identity-provider",
      projects,
      owner: `idp:${payload.sub!}`,
      subject: payload.sub!,
      ...(typeof payload.jti === "string" ? { tokenId: payload.jti } : {}),
      constraints: {},
      expiresAt: new Date(payload.exp! * 1000),
    };
  }
}

/** The key set could not be fetched (timeout, refused, not 200, not JSON), as opposed to a token that fails. */
function isProviderUnreachable(error: unknown): boolean {
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) return true;
  if (error instanceof errors.JOSEError) return error.code === "ERR_JOSE_GENERIC";
  return !(error instanceof ApiError); // fetch's own TypeError ("fetch failed") for a refused connection
}
