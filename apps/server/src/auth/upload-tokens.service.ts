import { Inject, Injectable } from "@nestjs/common";
import {
  DEFAULT_UPLOAD_TOKEN_SECONDS,
  uploadTokenConstraintsSchema,
  type CreateUploadTokenBody,
  type UploadTokenResult,
} from "@upload-gateway/contract";
import { randomBytes } from "node:crypto";
import { SignJWT, jwtVerify, type JWTHeaderParameters } from "jose";
import type { TokenSigningKey } from "../config/app-config";
import { ApiError } from "../errors/api-error";
import { TOKEN_SIGNING_KEYS } from "../tokens";
import { tokenError, type VerifiedToken } from "./verified-token";

/** `iss` and `aud` of the gateway's own tokens: an identity provider's token can never pass for one. */
export const GATEWAY_ISSUER = "upload-gateway";
const GATEWAY_AUDIENCE = "upload-gateway:upload";
/** Only HMAC-SHA256: `none`, and a public key passed off as an HMAC secret, never verify. */
export const GATEWAY_TOKEN_ALGORITHM = "HS256";

/**
 * Mints and verifies the gateway's upload tokens: JWTs signed with HS256 by the first of `UPLOAD_TOKEN_KEYS` and
 * verified by any of them (rotation by `kid`). They carry the project (`project`), the constraints (`constraints`),
 * their own id (`jti`), the subject they were minted for (`sub`, when given) and the id of the API key that minted
 * them (`minter`, see `apiKeyId`).
 */
@Injectable()
export class UploadTokens {
  private readonly byKid: Map<string, Uint8Array>;

  constructor(@Inject(TOKEN_SIGNING_KEYS) private readonly keys: TokenSigningKey[]) {
    this.byKid = new Map(keys.map((k) => [k.kid, k.secret]));
  }

  get enabled(): boolean {
    return this.keys.length > 0;
  }

  /** A token for `projectId`, minted by the API key whose `keyId` is `mintedBy`. */
  async mint(projectId: string, body: CreateUploadTokenBody, mintedBy: string): Promise<UploadTokenResult> {
    const signer = this.keys[0];
    if (!signer) throw new ApiError({ code: "UPLOAD_TOKENS_NOT_CONFIGURED" });
    const { expiresInSeconds = DEFAULT_UPLOAD_TOKEN_SECONDS, subject, ...constraints } = body ?? {};
    const now = Date.now() / 1000;
    const issuedAt = Math.floor(now);
    // JWT times are whole seconds: rounded up, so that a token lives at least the seconds asked for (rounded down,
    // a 1-second token could be dead on arrival).
    const expiresAt = Math.ceil(now) + expiresInSeconds;
    const jwt = new SignJWT({ project: projectId, constraints, minter: mintedBy })
      .setProtectedHeader({ alg: GATEWAY_TOKEN_ALGORITHM, kid: signer.kid, typ: "JWT" })
      .setIssuer(GATEWAY_ISSUER)
      .setAudience(GATEWAY_AUDIENCE)
      .setJti(randomBytes(16).toString("base64url"))
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt);
    if (subject !== undefined) jwt.setSubject(subject);
    return { token: await jwt.sign(signer.secret), expiresAt: new Date(expiresAt * 1000).toISOString() };
  }

  /**
   * Verifies one of the gateway's tokens. No clock leeway: the gateway's own clock decides, and `exp` is the second
   * the token stops working (jose's default tolerance is 0; none is passed).
   */
  async verify(token: string): Promise<VerifiedToken> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, (header: JWTHeaderParameters) => this.secretOf(header), {
        algorithms: [GATEWAY_TOKEN_ALGORITHM],
        issuer: GATEWAY_ISSUER,
        audience: GATEWAY_AUDIENCE,
        requiredClaims: ["exp", "iat", "jti"],
      }));
    } catch (error) {
      throw tokenError(error, "upload token");
    }
    const constraints = uploadTokenConstraintsSchema.safeParse(payload.constraints ?? {});
    const { project, jti, sub, exp, minter } = payload;
    if (typeof project !== "string" || typeof jti !== "string" || !constraints.success || typeof exp !== "number") {
      throw new ApiError({
        code: "UNAUTHORIZED",
        message: "The upload token's claims are not ones this gateway issues.",
      });
    }
    return {
      issuer: "gateway",
      projects: [project],
      // Distinct prefixes: a subject can never be mistaken for another token's id.
      owner: typeof sub === "string" ? `subject:${sub}` : `token:${jti}`,
      ...(typeof sub === "string" ? { subject: sub } : {}),
      // Tokens minted before the claim existed have none: each is then rate-limited on its own, until it expires.
      ...(typeof minter === "string" ? { mintedBy: minter } : {}),
      tokenId: jti,
      constraints: constraints.data,
      expiresAt: new Date(exp * 1000),
    };
  }

  private secretOf(header: JWTHeaderParameters): Uint8Array {
    const secret = header.kid === undefined ? undefined : this.byKid.get(header.kid);
    if (!secret) {
      throw new ApiError({
        code: "UNAUTHORIZED",
        message: "The upload token is signed with a key this gateway does not have (unknown kid).",
      });
    }
    return secret;
  }
}
