import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { IDEMPOTENCY_KEY_TTL_HOURS, toByteCount } from "@upload-gateway/contract";
import { z } from "zod";
import { ApiError } from "../errors/api-error";
import type { Storage } from "../storage/storage.port";
import { idempotencyEntryKey } from "./upload-keys";

/** A key's entry is honoured this long after the start that made it; later, the key starts a new upload. */
export const IDEMPOTENCY_TTL_MS = IDEMPOTENCY_KEY_TTL_HOURS * 3600 * 1000;
/**
 * A claim whose upload record has not appeared after this long belongs to a start that died (a killed process): it
 * may be taken over. Well beyond the slowest start that can still succeed (two S3 calls of up to 3 × 30 s each).
 */
export const ABANDONED_CLAIM_MS = 5 * 60 * 1000;
/** How long a duplicate start waits for the first one with its key to finish before answering 409 (retryable). */
const WAIT_FOR_FIRST_MS = 10_000;

/**
 * What the store keeps per project and key (under the SHA-256 of the key): which start the key made and a fingerprint
 * of its body. Written with create-if-absent before the upload is made, so that of two concurrent starts with one key
 * exactly one makes an upload; replaced only by compare-and-swap, when stale, abandoned or released.
 */
const entrySchema = z.object({
  version: z.literal(1),
  fingerprint: z.string(),
  requestKey: z.string(),
  createdAt: z.string().datetime(),
  /** The start failed: nothing was made, and the key is free again. */
  released: z.boolean().optional(),
});
type Entry = z.infer<typeof entrySchema>;

export type ClaimOutcome<R> =
  /** This start owns the key: make the upload with `requestKey`, or call `release` if that fails. */
  | { claimed: true; release: () => Promise<void> }
  /** An earlier start with the same key and body made this upload. */
  | { claimed: false; record: R };

/**
 * `Idempotency-Key` for starts (IETF draft "The Idempotency-Key HTTP Header Field"), kept in the store so that it
 * holds across replicas: the same key and body within 24 h gives the earlier start's upload; the same key with another
 * body is refused with 422; a start that finds the first one still running waits for it (up to 10 s, then 409).
 */
export class IdempotencyLedger {
  constructor(
    private readonly storage: Storage,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Claims `idempotencyKey` for a new start that will make `requestKey`, or finds the upload an earlier start with the
   * same key made (`findRecord` reads an upload's record; undefined while it is not written yet).
   */
  async claim<R>(
    projectId: string,
    idempotencyKey: string,
    fingerprint: string,
    requestKey: string,
    findRecord: (requestKey: string) => Promise<R | undefined>,
  ): Promise<ClaimOutcome<R>> {
    const key = idempotencyEntryKey(projectId, idempotencyKey);
    const entry = (): Entry => ({ version: 1, fingerprint, requestKey, createdAt: new Date(this.now()).toISOString() });
    const claimed: ClaimOutcome<R> = { claimed: true, release: () => this.release(key, requestKey) };
    let existingRequestKey: string | undefined;
    // Real time, not `now`: this bounds how long the request waits.
    const waitUntil = Date.now() + WAIT_FOR_FIRST_MS;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0 && Date.now() >= waitUntil) throw stillRunning(existingRequestKey);
      if (await this.storage.writeJson(key, entry(), { ifNoneMatch: true })) return claimed;
      const document = await this.storage.readDocument(key);
      if (!document) continue; // removed in between: claim it again
      const parsed = entrySchema.safeParse(document.value);
      const existing = parsed.success ? parsed.data : undefined;
      const age = existing ? this.now() - Date.parse(existing.createdAt) : Infinity;
      const replaceable = !existing || existing.released === true || age > IDEMPOTENCY_TTL_MS;
      if (!replaceable) {
        if (existing.fingerprint !== fingerprint) {
          throw new ApiError({
            code: "IDEMPOTENCY_KEY_REUSED",
            field: "headers.idempotency-key",
            message: `was used for another request body in the last ${IDEMPOTENCY_TTL_MS / 3_600_000} h (upload ${existing.requestKey}); send a new key for a new upload`,
          });
        }
        const record = await findRecord(existing.requestKey);
        if (record !== undefined) return { claimed: false, record };
        if (age <= ABANDONED_CLAIM_MS) {
          // The first start with this key is still making its upload: wait for its record rather than fail.
          existingRequestKey = existing.requestKey;
          await sleep(Math.min(25 * 2 ** attempt, 400));
          continue;
        }
      }
      // Stale, released or abandoned: take it over, unless another start just did (then look again).
      if (await this.storage.writeJson(key, entry(), { ifMatch: document.version })) return claimed;
    }
  }

  /** Frees the key after a failed start, so that its retry can start afresh; only if the entry is still ours. */
  private async release(key: string, requestKey: string): Promise<void> {
    const document = await this.storage.readDocument(key);
    const parsed = entrySchema.safeParse(document?.value);
    if (!document || !parsed.success || parsed.data.requestKey !== requestKey) return;
    await this.storage.writeJson(key, { ...parsed.data, released: true }, { ifMatch: document.version });
  }
}

function stillRunning(requestKey: string | undefined): ApiError {
  return new ApiError({
    code: "IDEMPOTENCY_KEY_IN_USE",
    field: "headers.idempotency-key",
    message: `a start with this key${requestKey ? ` (upload ${requestKey})` : ""} is still running; retry shortly`,
  });
}

/**
 * A fingerprint of a start's body: what makes two starts "the same request". The parsed body, so that formatting and
 * key order do not count, with `contentLength` as a number (`"10"` and `10` are the same length) and absent and null
 * fields alike (an empty `metadata` too).
 */
export function startFingerprint(
  body: {
    contentLength: string | number;
    metadata?: Record<string, string> | null;
    [field: string]: unknown;
  },
  owner?: string,
): string {
  // Metadata in any key order is the same metadata, and an empty map is none.
  const entries = Object.entries(body.metadata ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const metadata = entries.length > 0 ? Object.fromEntries(entries) : undefined;
  // The owner of a token's start is part of the request: another token (or an API key) sending the same key and body
  // must not be handed that token's upload.
  const normalized = {
    ...body,
    contentLength: toByteCount(body.contentLength),
    metadata,
    ...(owner !== undefined ? { "(owner)": owner } : {}),
  };
  const fields = Object.entries(normalized)
    .filter(([, value]) => value !== undefined && value !== null)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash("sha256").update(JSON.stringify(fields)).digest("hex");
}
