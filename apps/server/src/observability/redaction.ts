/**
 * What must never reach a log line: credentials in headers, the userinfo of URLs (`https://user:password@host`), and
 * the query strings that make a URL a credential (S3 presigned URLs, the embedded store's signed URLs, webhook
 * tokens). `scrubSecrets` is the one function every logged URL or free text goes through: the logger's serializers
 * and message hook, the access line, and the places that log a configured URL themselves (webhooks, the identity
 * provider), which must stay clean under an embedding app's own logger too.
 */

/**
 * Query parameters whose value grants access: AWS SigV4/SigV2 presigning, the embedded store's HMAC, generic tokens
 * and passwords. Compared after percent-decoding and lower-casing the name (`%74oken`, `X-AMZ-SIGNATURE`).
 */
const SECRET_PARAMS = new Set([
  "x-amz-signature",
  "x-amz-credential",
  "x-amz-security-token",
  "signature",
  "awsaccesskeyid",
  "sig",
  "token",
  "access_token",
  "refresh_token",
  "id_token",
  "api_key",
  "apikey",
  "password",
  "secret",
  "client_secret",
]);

export const REDACTED = "[REDACTED]";

/** Where a URL-ish token ends in free text. */
const END = `\\s"'<>\`()`;
/**
 * A URL's authority after `//` (with a scheme or without, `//user:pw@host`; or `%2F%2F`, a URL in a query's value):
 * everything up to the path, query or fragment. The `@` that ends userinfo is the last one before them (the WHATWG
 * parser's rule), so a password with an unencoded `@` is removed whole.
 */
const AUTHORITY = new RegExp(`(?<!/)(?://|%2F%2F)([^/?#\\\\${END}]*)`, "gi");
/** Where a URL's path ends: its query, fragment, or the end of the URL-ish token. */
const PATH_END = new RegExp(`[?#${END}]`, "g");
/** `user:password@host` with no scheme or `//` (as some tools print it): a name, a colon, anything, an `@`. */
const BARE_USERINFO = new RegExp(`(^|[\\s"'(<])([^\\s"'=:/@?#()<>]+:[^${END}/?#]*@)(?=[^${END}@/?#])`, "g");
/** One query (or fragment) parameter: its delimiter, name and value. */
const PARAM = new RegExp(`([?&;#])([^=&;#?${END}]+)=([^&#${END}]*)`, "g");
const BEARER_PATTERN = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;

/**
 * `text` with the userinfo of every URL in it replaced, the values of secret query parameters replaced, and bearer
 * tokens replaced, wherever they appear in it: a URL on its own, a request target (`/api/...?token=`), or a sentence
 * naming URLs. Malformed URLs are scrubbed as far as they can be read; nothing here throws.
 */
export function scrubSecrets(text: string): string {
  return scrubUserinfo(text)
    .replace(BARE_USERINFO, (_all, before: string) => `${before}${REDACTED}@`)
    .replace(PARAM, (all, delimiter: string, name: string) => {
      return isSecretParam(name) ? `${delimiter}${name}=${REDACTED}` : all;
    })
    .replace(BEARER_PATTERN, `$1 ${REDACTED}`);
}

/**
 * Every URL's userinfo replaced. An authority whose port is not a number is no host and port: `user:pa` of
 * `http://user:pa/ss@host/x`, a password with an unencoded `/`; then everything up to the path's last `@` goes too.
 */
function scrubUserinfo(text: string): string {
  let out = "";
  let copied = 0;
  // Where the current path ends and its last `@`, found once per path (linear time whatever the text).
  let pathEnd = -1;
  let pathAt = -1;
  AUTHORITY.lastIndex = 0;
  for (let match = AUTHORITY.exec(text); match; match = AUTHORITY.exec(text)) {
    const authority = match[1]!;
    const start = match.index + match[0].length - authority.length;
    let end = start + authority.length;
    let replacement = authority;
    const at = authority.lastIndexOf("@");
    if (at >= 0) {
      replacement = `${REDACTED}@${authority.slice(at + 1)}`;
    } else if (hasMalformedPort(authority)) {
      if (end >= pathEnd) {
        PATH_END.lastIndex = end;
        pathEnd = PATH_END.exec(text)?.index ?? text.length;
        pathAt = text.lastIndexOf("@", pathEnd - 1);
      }
      replacement = pathAt >= end ? `${REDACTED}@` : REDACTED;
      if (pathAt >= end) end = pathAt + 1;
    }
    out += text.slice(copied, start) + replacement;
    copied = end;
    AUTHORITY.lastIndex = Math.max(AUTHORITY.lastIndex, end);
  }
  return out + text.slice(copied);
}

function hasMalformedPort(authority: string): boolean {
  const port = /^(?:\[[^\]]*\]|[^:[\]]*):(.*)$/.exec(authority)?.[1];
  return port !== undefined && !/^\d*$/.test(port);
}

function isSecretParam(name: string): boolean {
  let decoded = name.replace(/\+/g, " ");
  try {
    decoded = decodeURIComponent(decoded);
  } catch {
    // A malformed escape: judge the name as it is.
  }
  return SECRET_PARAMS.has(decoded.trim().toLowerCase());
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
