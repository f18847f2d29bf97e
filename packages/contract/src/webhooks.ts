import { uploadEventSchema, type UploadEvent } from "./upload-events";

/**
 * Signed webhooks. Each delivery is a POST of an `UploadEvent` as JSON with the header
 * `Upload-Gateway-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. The time is signed, so
 * a receiver that checks it (`verifyWebhook` does, 5 minutes by default) refuses a captured delivery sent again later.
 *
 * Web Crypto only (`globalThis.crypto.subtle`: Node 18+, Deno, Bun, browsers, edge workers), so a receiver needs this
 * package and nothing of the server's.
 */
export const WEBHOOK_SIGNATURE_HEADER = "Upload-Gateway-Signature";
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;

export type WebhookVerificationFailure = "malformed-header" | "bad-signature" | "too-old" | "bad-body";

/** Why a delivery was refused; `reason` for code, `message` for people. */
export class WebhookVerificationError extends Error {
  override name = "WebhookVerificationError";
  constructor(
    readonly reason: WebhookVerificationFailure,
    message: string,
  ) {
    super(message);
  }
}

const encoder = new TextEncoder();

function bytesOf(body: string | Uint8Array): Uint8Array {
  return typeof body === "string" ? encoder.encode(body) : body;
}

async function hmacKey(secret: string, usage: "sign" | "verify"): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [usage]);
}

/** The signed message: `<t>.` then the raw body, byte for byte. */
function signedBytes(timestamp: number, body: string | Uint8Array): Uint8Array<ArrayBuffer> {
  const prefix = encoder.encode(`${timestamp}.`);
  const raw = bytesOf(body);
  const message = new Uint8Array(new ArrayBuffer(prefix.length + raw.length));
  message.set(prefix);
  message.set(raw, prefix.length);
  return message;
}

const toHex = (bytes: ArrayBuffer) =>
  Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");

/** The `Upload-Gateway-Signature` header value of `body` sent at `timestamp` (unix seconds). */
export async function signWebhook(secret: string, body: string | Uint8Array, timestamp: number): Promise<string> {
  const signature = await crypto.subtle.sign("HMAC", await hmacKey(secret, "sign"), signedBytes(timestamp, body));
  return `t=${timestamp},v1=${toHex(signature)}`;
}

export interface VerifyWebhookOptions {
  /** How old (or how far in the future) the signed time may be, in seconds; 300 by default. */
  toleranceSeconds?: number;
  /** The current time in milliseconds (tests); `Date.now()` by default. */
  now?: number;
}

/**
 * Checks a delivery and returns its event: `header` is the `Upload-Gateway-Signature` header, `body` the request's
 * raw body exactly as received (not a re-serialized parse: any byte of difference fails). Throws a
 * `WebhookVerificationError` when the header is malformed, no `v1` signature matches (several are accepted, for a
 * secret being rotated), the signed time is outside the tolerance, or the body is not an event. Deliveries are at
 * least once: drop repeats by the event's `id`.
 */
export async function verifyWebhook(
  secret: string,
  header: string | null | undefined,
  body: string | Uint8Array,
  options: VerifyWebhookOptions = {},
): Promise<UploadEvent> {
  const fields = (header ?? "").split(",").map((field) => field.trim().split("="));
  const timestamps = fields.filter(([name]) => name === "t").map(([, value]) => value ?? "");
  const signatures = fields
    .filter(([name, value]) => name === "v1" && /^[0-9a-f]{64}$/i.test(value ?? ""))
    .map(([, v]) => v!);
  if (timestamps.length !== 1 || !/^\d{1,12}$/.test(timestamps[0]!) || signatures.length === 0) {
    throw new WebhookVerificationError(
      "malformed-header",
      `the ${WEBHOOK_SIGNATURE_HEADER} header must be t=<unix seconds>,v1=<hex signature>`,
    );
  }
  const timestamp = Number(timestamps[0]);
  const tolerance = options.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
  const age = (options.now ?? Date.now()) / 1000 - timestamp;
  if (Math.abs(age) > tolerance) {
    throw new WebhookVerificationError(
      "too-old",
      `the signature's time is ${Math.round(age)} s away from now (at most ${tolerance} s allowed)`,
    );
  }
  const key = await hmacKey(secret, "verify");
  const message = signedBytes(timestamp, body);
  let matched = false;
  for (const signature of signatures) {
    const bytes = new Uint8Array(signature.match(/../g)!.map((pair) => parseInt(pair, 16)));
    // crypto.subtle.verify compares in constant time.
    if (await crypto.subtle.verify("HMAC", key, bytes, message)) matched = true;
  }
  if (!matched) throw new WebhookVerificationError("bad-signature", "no signature matches the body with this secret");
  let json: unknown;
  try {
    json = JSON.parse(typeof body === "string" ? body : new TextDecoder().decode(body));
  } catch {
    throw new WebhookVerificationError("bad-body", "the body is not JSON");
  }
  const parsed = uploadEventSchema.safeParse(json);
  if (!parsed.success) throw new WebhookVerificationError("bad-body", "the body is not an Upload Gateway event");
  return parsed.data;
}
