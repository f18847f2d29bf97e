import { isIP } from "node:net";
import { z } from "zod";

/**
 * The parsers and checks of the environment's variables, one for each kind of value (URLs, origins, key lists,
 * durations, proxy lists, hosts); app-config.ts puts them together and is the one reader of `process.env`.
 */

export const booleanFromString = z
  .enum(["true", "false", "1", "0", "yes", "no"], { message: "must be true or false" })
  .transform((v) => v === "true" || v === "1" || v === "yes");

export const optionalUrl = z
  .string()
  .url("must be a URL such as http://127.0.0.1:7480")
  .optional()
  .transform((v) => (v === "" ? undefined : v));

/** Fastify's `trustProxy` forms: off, every hop, the last N hops, or the proxies at these addresses. */
export type TrustProxy = boolean | number | string[];

// proxy-addr's names for the private ranges, accepted as Fastify accepts them.
const NAMED_RANGES = new Set(["loopback", "linklocal", "uniquelocal"]);

/** `true`/`false`, a hop count, or a comma-separated list of addresses, CIDRs and proxy-addr's named ranges. */
export const trustProxy = z
  .string()
  .default("false")
  .transform((raw, ctx): TrustProxy => {
    const value = raw.trim().toLowerCase();
    if (["false", "0", "no"].includes(value)) return false;
    if (["true", "yes"].includes(value)) return true;
    if (/^\d+$/.test(value)) return Number(value);
    const entries = value
      .split(",")
      .map((e) => e.trim())
      .filter((e) => e !== "");
    const bad = entries.filter((entry) => !isTrustedAddress(entry));
    if (entries.length === 0 || bad.length > 0) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message:
          `must be true, false, a hop count, or a comma-separated list of proxy addresses or CIDRs ` +
          `(e.g. 10.0.0.0/8,::1 or loopback)${bad.length > 0 ? `; not understood: ${bad.map((b) => JSON.stringify(b)).join(", ")}` : ""}`,
      });
      return z.NEVER;
    }
    return entries;
  });

function isTrustedAddress(entry: string): boolean {
  if (NAMED_RANGES.has(entry)) return true;
  const [address = "", prefix, ...rest] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  if (/^\d{1,3}$/.test(prefix)) return Number(prefix) <= (family === 4 ? 32 : 128);
  return family === 4 && isIP(prefix) === 4; // a netmask such as 255.255.0.0, as proxy-addr accepts
}

/**
 * A web origin as browsers send it in `Origin`: scheme, host and port, nothing else (`https://app.example.com`).
 * Compared exactly, so it is normalized here (lower case, default port dropped, no trailing slash).
 */
export const webOrigin = z.string().transform((raw, ctx) => {
  let url: URL | undefined;
  try {
    url = new URL(raw.trim());
  } catch {
    // reported below
  }
  const isOrigin =
    url !== undefined &&
    (url.protocol === "http:" || url.protocol === "https:") &&
    url.pathname === "/" &&
    !url.search &&
    !url.hash &&
    !url.username &&
    !url.password;
  if (!isOrigin) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `${JSON.stringify(raw)} is not an origin such as https://app.example.com (scheme, host and port only)`,
    });
    return z.NEVER;
  }
  return url!.origin;
});

/** `CORS_ORIGINS`: comma-separated origins, or `*` for any origin (never with credentials: the API uses none). */
export const corsOrigins = z
  .string()
  .default("")
  .transform((raw, ctx): string[] | "*" => {
    const entries = raw
      .split(",")
      .map((e) => e.trim())
      .filter((e) => e !== "");
    if (entries.includes("*")) {
      if (entries.length > 1)
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: `"*" allows every origin: list origins or "*", not both`,
        });
      return "*";
    }
    const origins: string[] = [];
    for (const entry of entries) {
      const parsed = webOrigin.safeParse(entry);
      if (parsed.success) origins.push(parsed.data);
      else ctx.addIssue({ code: z.ZodIssueCode.custom, message: parsed.error.issues[0]!.message });
    }
    return origins;
  });

/** One key that signs and verifies the gateway's own upload tokens (HS256). */
export interface TokenSigningKey {
  kid: string;
  secret: Uint8Array;
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** HS256 wants a key at least as long as its hash (RFC 7518 §3.2). */
export const MIN_TOKEN_SECRET_BYTES = 32;

/**
 * Checks upload-token signing keys, from `UPLOAD_TOKEN_KEYS` or from the module's options: each kid well-formed and
 * listed once, each secret at least 32 bytes. `problem` gets the key's index and a sentence naming the key by its kid,
 * never by its secret.
 */
export function checkTokenSigningKeys(
  pairs: readonly { kid: unknown; secret: unknown }[],
  problem: (index: number, message: string) => void,
): TokenSigningKey[] {
  const keys: TokenSigningKey[] = [];
  const kids = new Set<string>();
  pairs.forEach(({ kid, secret }, index) => {
    if (typeof kid !== "string" || !KEY_ID.test(kid))
      return problem(index, "the kid must be 1–64 letters, digits, '.', '_' or '-'");
    if (kids.has(kid)) return problem(index, `kid "${kid}" is listed twice`);
    kids.add(kid);
    const bytes =
      typeof secret === "string"
        ? new TextEncoder().encode(secret)
        : secret instanceof Uint8Array
          ? new Uint8Array(secret)
          : undefined;
    if (!bytes || bytes.length < MIN_TOKEN_SECRET_BYTES)
      return problem(index, `the secret of "${kid}" must be at least ${MIN_TOKEN_SECRET_BYTES} bytes`);
    keys.push({ kid, secret: bytes });
  });
  return keys;
}

/**
 * `UPLOAD_TOKEN_KEYS`: comma-separated `kid:secret` pairs. The first signs new tokens; every one verifies, so a key is
 * rotated by putting the new one first and dropping the old one once its tokens have expired (a day at most).
 * Problems name the pair by its position or kid, never the secret.
 */
export const tokenSigningKeys = z
  .string()
  .default("")
  .transform((raw, ctx): TokenSigningKey[] => {
    const problem = (index: number, message: string) =>
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `key ${index + 1}: ${message}` });
    const entries = raw
      .split(",")
      .map((e) => e.trim())
      .filter((e) => e !== "");
    const pairs = entries.map((entry) => {
      const colon = entry.indexOf(":");
      return colon > 0 ? { kid: entry.slice(0, colon), secret: entry.slice(colon + 1) } : { kid: "", secret: "" };
    });
    // A pair without a well-formed kid is most likely not kid:secret at all (a bare secret, a stray comma).
    return checkTokenSigningKeys(pairs, (index, message) =>
      problem(
        index,
        KEY_ID.test(pairs[index]!.kid) ? message : "must be kid:secret, the kid 1–64 letters, digits, '.', '_' or '-'",
      ),
    );
  });

/** A URL the gateway fetches keys from: https, or http on a loopback address (tests, a sidecar). */
export const jwksUrl = z
  .string()
  .url("must be a URL such as https://idp.example.com/.well-known/jwks.json")
  .refine((raw) => {
    const url = new URL(raw);
    return url.protocol === "https:" || (url.protocol === "http:" && isLoopback(url.hostname));
  }, "must be an https URL (http only on a loopback address)")
  .optional();

/** `REDIS_URL`: redis:// or rediss:// (TLS). Problems never repeat the value, which may hold a password. */
export const redisUrl = z
  .string()
  .refine((raw) => {
    try {
      const url = new URL(raw);
      return (url.protocol === "redis:" || url.protocol === "rediss:") && url.hostname !== "";
    } catch {
      return false;
    }
  }, "must be a redis:// or rediss:// (TLS) URL such as redis://redis.internal:6379 or rediss://user:pass@host:6380/0")
  .optional();

/** `CLAMD_URL`: clamd's TCP socket as `tcp://host:port` (clamd's `TCPAddr` and `TCPSocket`). */
export const clamdUrl = z.string().transform((raw, ctx): { host: string; port: number } => {
  const match = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^\s/:@[\]]+):(\d{1,5})\/?$/.exec(raw.trim());
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: "must be tcp://host:port, e.g. tcp://127.0.0.1:3310" });
    return z.NEVER;
  }
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
});

/** A duration in seconds; fractions allowed (tests use short timeouts). */
export const seconds = (fallback: number) =>
  z.coerce.number({ message: "must be a number of seconds" }).positive("must be more than 0").default(fallback);

/** Whether `host` is reachable only from this machine. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Whether `host` means "every interface", which is not an address a client can use. */
export function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]";
}
