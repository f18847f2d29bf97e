import type { AppConfig, TokenSigningKey } from "../config/app-config";
import { persistentSecret, randomSecret } from "../storage/local-secrets";

/** The kid of the key generated for the embedded store's gateway when none is configured. */
export const LOCAL_TOKEN_KEY_ID = "local";

/**
 * The keys that sign and verify upload tokens: `UPLOAD_TOKEN_KEYS`, or with the embedded store and none configured, one
 * generated once and kept in the data dir (like the store's URL secret), so tokens survive a restart. With S3 and none
 * configured there is none: replicas share no disk to agree on a generated key, and keeping a signing key in the
 * bucket would let anyone who can read the bucket mint write access. Tokens are then refused (501).
 */
export function resolveTokenSigningKeys(config: AppConfig): TokenSigningKey[] {
  if (config.UPLOAD_TOKEN_KEYS.length > 0) return config.UPLOAD_TOKEN_KEYS;
  if (config.STORAGE !== "local") return [];
  const secret = persistentSecret(config.LOCAL_STORAGE_DIR, "upload-token-key", randomSecret(32));
  return [{ kid: LOCAL_TOKEN_KEY_ID, secret: new TextEncoder().encode(secret) }];
}
