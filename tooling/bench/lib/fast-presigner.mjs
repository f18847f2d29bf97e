// Loads the gateway's fast presigner (SigV4Presigner) from the server's BUILT output, if it is there.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
export const serverDir = dirname(require.resolve("@upload-gateway/server/package.json"));
export const presignerPath = join(serverDir, "dist", "storage", "sigv4-presigner.js");

/**
 * @typedef {{ accessKeyId: string, secretAccessKey: string, sessionToken?: string }} Credentials
 * @typedef {{ region: string, endpoint: string, bucket: string, forcePathStyle: boolean, credentials: Credentials }} PresignConfig
 * @typedef {{ partNumber: number, size: number }} PlannedPart
 * @typedef {(key: string, uploadId: string, parts: PlannedPart[], expiresInSeconds: number, now?: Date) => string[]} PresignParts
 */

/**
 * A `presignUploadParts(key, uploadId, parts, expiresIn, now?)` of the gateway's SigV4Presigner, or why there is
 * none. Works with both shapes the class has had: credentials in the constructor, or as the first argument. Each part
 * is `{ partNumber, size }`: the URL signs its `content-length`.
 * @param {PresignConfig} config
 * @returns {{ available: true, presignUploadParts: PresignParts, path: string } | { available: false, reason: string, path: string }}
 */
export function loadFastPresigner(config) {
  if (!existsSync(presignerPath)) {
    return {
      available: false,
      reason: `not available: ${presignerPath} is missing (server not built, or no fast presigner yet)`,
      path: presignerPath,
    };
  }
  try {
    const { SigV4Presigner } = require(presignerPath);
    if (typeof SigV4Presigner !== "function") throw new Error("it exports no SigV4Presigner class");
    const presigner = new SigV4Presigner(config);
    const method = presigner.presignUploadParts;
    if (typeof method !== "function") throw new Error("SigV4Presigner has no presignUploadParts");
    // Default parameters do not count in Function.length: (credentials, key, uploadId, parts, expiresIn) is 5.
    const takesCredentials = method.length >= 5;
    /** @type {PresignParts} */
    const presignUploadParts = takesCredentials
      ? (key, uploadId, parts, expiresIn, now) =>
          method.call(presigner, config.credentials, key, uploadId, parts, expiresIn, now)
      : (key, uploadId, parts, expiresIn, now) => method.call(presigner, key, uploadId, parts, expiresIn, now);
    return { available: true, presignUploadParts, path: presignerPath };
  } catch (error) {
    return {
      available: false,
      reason: `not available: loading ${presignerPath} failed: ${/** @type {Error} */ (error).message}`,
      path: presignerPath,
    };
  }
}

/** Whether the built gateway's S3 adapter signs with SigV4Presigner (else it uses the SDK's getSignedUrl). */
export function gatewayUsesFastPresigner() {
  const adapter = join(serverDir, "dist", "storage", "s3.storage.js");
  return existsSync(presignerPath) && existsSync(adapter) && readFileSync(adapter, "utf8").includes("sigv4-presigner");
}
