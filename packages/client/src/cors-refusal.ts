/** How long the reachability probe may take: a gateway that does not answer it by then is taken for unreachable. */
const PROBE_TIMEOUT_MS = 5_000;

/**
 * The origin of the page (or worker) this code runs in, when `url` is on another origin: then the browser applies
 * CORS to the call. Undefined outside browsers (Node, Bun, Deno without `--location`) and for same-origin calls.
 */
export function crossOriginPage(url: string): string | undefined {
  let here: unknown;
  try {
    // Deno throws on reading `location` when it has none.
    here = (globalThis as { location?: { origin?: unknown } }).location?.origin;
  } catch {
    return undefined;
  }
  if (typeof here !== "string" || here === "") return undefined;
  try {
    return new URL(url).origin === here ? undefined : here;
  } catch {
    return undefined;
  }
}

/**
 * Whether the gateway at `baseUrl` answers at all. A call the browser refused for CORS fails with the same
 * `TypeError` as one that met no network, so this asks `{baseUrl}/health/live` in `no-cors` mode: the browser hands
 * back an opaque reply without any CORS header, and fails only when nothing answered (its reply carries
 * `Cross-Origin-Resource-Policy: cross-origin` for this). False when it failed, or took longer than 5 s.
 */
export async function gatewayAnswers(fetchImpl: typeof fetch, baseUrl: string, signal?: AbortSignal): Promise<boolean> {
  const probe = new AbortController();
  const timer = setTimeout(() => probe.abort(), PROBE_TIMEOUT_MS);
  const onAbort = () => probe.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await fetchImpl(`${baseUrl}/health/live`, {
      mode: "no-cors",
      credentials: "omit",
      cache: "no-store",
      signal: probe.signal,
    });
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
