/**
 * What must never reach a log line: credentials in headers, and the query strings that make a URL a credential
 * (S3 presigned URLs, the embedded store's signed URLs). Used by the logger's serializers and message hook.
 */

/** Query parameters whose value grants access: AWS SigV4/SigV2 presigning, the embedded store's HMAC, generic tokens. */
const SECRET_PARAMS = [
  "x-amz-signature",
  "x-amz-credential",
  "x-amz-security-token",
  "signature",
  "awsaccesskeyid",
  "sig",
  "token",
  "access_token",
  "api_key",
  "apikey",
];

export const REDACTED = "[REDACTED]";

const SECRET_PARAM_PATTERN = new RegExp(`([?&](?:${SECRET_PARAMS.join("|")})=)[^&#\\s"'<>]*`, "gi");
const BEARER_PATTERN = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;

/** `text` with the values of secret query parameters and bearer tokens replaced, wherever they appear in it. */
export function scrubSecrets(text: string): string {
  return text.replace(SECRET_PARAM_PATTERN, `$1${REDACTED}`).replace(BEARER_PATTERN, `$1 ${REDACTED}`);
}

/**
 * pino `redact` paths: structured fields that hold secrets, wherever a log call puts them (one level deep, plus the
 * request headers of Fastify's serializers).
 */
export const REDACT_PATHS = [
  "authorization",
  "*.authorization",
  "req.headers.authorization",
  "req.headers.cookie",
  "req.headers['x-amz-security-token']",
  "headers.authorization",
  "headers.cookie",
  "apiKey",
  "*.apiKey",
  "token",
  "*.token",
  "secretAccessKey",
  "*.secretAccessKey",
  "sessionToken",
  "*.sessionToken",
  "credentials",
  "*.credentials",
  "presignedUrl",
  "*.presignedUrl",
];
