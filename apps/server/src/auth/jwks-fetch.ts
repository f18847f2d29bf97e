import type { FetchImplementation } from "jose";
import { scrubSecrets } from "../observability/redaction";

/** A key set larger than this is refused: real ones are a few KB (a key is ~1 KB), and it is parsed into memory. */
export const MAX_JWKS_BYTES = 1024 * 1024;
/** A key set with more keys than this is refused: providers publish a handful, rotating. */
export const MAX_JWKS_KEYS = 100;
/** After a refusal, the key set is not fetched again for this long: each token would otherwise fetch it anew. */
export const JWKS_REFUSAL_COOLDOWN_MS = 10_000;

/** The identity provider's key set was fetched and is not one the gateway takes (too large, too many keys). */
export class JwksRefusedError extends Error {
  override name = "JwksRefusedError";
}

export interface JwksFetchOptions {
  maxBytes?: number;
  maxKeys?: number;
  /** Told once per refusal (then nothing during the cooldown): the line an operator needs. */
  onRefused: (message: string) => void;
  now?: () => number;
}

/**
 * jose's `customFetch` for `createRemoteJWKSet`: fetches the key set as jose asks (its timeout signal, no redirects)
 * and reads at most `maxBytes` of it, stopping the transfer there (a declared larger `Content-Length` is refused
 * before any byte is read); more than `maxKeys` keys is refused too. A 96 MiB key set took the gateway from 151 to
 * 754 MiB; now nothing larger than the cap is ever held. A refusal is a `JwksRefusedError`, which the verifier
 * answers 503 IDENTITY_PROVIDER_UNAVAILABLE (the provider must fix it; the gateway's API keys work on).
 */
export function cappedJwksFetch(options: JwksFetchOptions): FetchImplementation {
  const { maxBytes = MAX_JWKS_BYTES, maxKeys = MAX_JWKS_KEYS, onRefused, now = Date.now } = options;
  let refused: { error: JwksRefusedError; until: number } | undefined;
  return async (url, init) => {
    if (refused && now() < refused.until) throw refused.error;
    const response = await fetch(url, init);
    if (response.status !== 200) {
      await response.body?.cancel();
      return response; // jose refuses it with its own error
    }
    let problem: string | undefined;
    let text = "";
    const declared = Number(response.headers.get("content-length") ?? Number.NaN);
    if (declared > maxBytes) {
      problem = `it declares ${declared} bytes, more than ${maxBytes}`;
      await response.body?.cancel();
    } else {
      const read = await readAtMost(response, maxBytes);
      if (read === undefined) problem = `it is larger than ${maxBytes} bytes`;
      else text = read;
    }
    if (problem === undefined) {
      const keys = keysOf(text);
      if (keys !== undefined && keys > maxKeys) problem = `it has ${keys} keys, more than ${maxKeys}`;
    }
    if (problem === undefined) {
      refused = undefined;
      return new Response(text, { status: 200, headers: { "content-type": "application/json" } });
    }
    const message =
      `The identity provider's key set at ${scrubSecrets(url)} is refused: ${problem}. Its tokens are answered 503 ` +
      `IDENTITY_PROVIDER_UNAVAILABLE until it is fixed (fetched again after ${JWKS_REFUSAL_COOLDOWN_MS / 1000} s ` +
      "at the earliest).";
    refused = { error: new JwksRefusedError(message), until: now() + JWKS_REFUSAL_COOLDOWN_MS };
    onRefused(message);
    throw refused.error;
  };
}

/** The body as text, or undefined once it passes `maxBytes` (the rest is never read: the stream is cancelled). */
async function readAtMost(response: Response, maxBytes: number): Promise<string | undefined> {
  if (!response.body) return "";
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** How many keys a key set lists; undefined when it is not JSON with a `keys` list (jose refuses it then). */
function keysOf(text: string): number | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    const keys = (parsed as { keys?: unknown } | null)?.keys;
    return Array.isArray(keys) ? keys.length : undefined;
  } catch {
    return undefined;
  }
}
