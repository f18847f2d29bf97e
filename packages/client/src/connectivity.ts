/**
 * Whether the runtime says it is offline: a browser's `navigator.onLine === false`. Runtimes without the flag (Node,
 * Deno, Bun) are taken as online, and their requests tell.
 */
export function isOffline(): boolean {
  const nav = (globalThis as { navigator?: { onLine?: unknown } }).navigator;
  return nav?.onLine === false;
}

/**
 * Waits while the browser is offline, until its `online` event (or `signal` aborts); resolves at once when online.
 * Returns how long it waited, so that the time is not counted against a retry budget: nothing could be tried then.
 */
export async function whileOffline(signal: AbortSignal, now: () => number = Date.now): Promise<number> {
  const events = globalThis as unknown as Partial<EventTarget>;
  if (!isOffline() || typeof events.addEventListener !== "function") return 0;
  const since = now();
  await new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const cleanup = () => {
      events.removeEventListener?.("online", online);
      signal.removeEventListener("abort", aborted);
    };
    const online = () => {
      cleanup();
      resolve();
    };
    const aborted = () => {
      cleanup();
      reject(signal.reason);
    };
    events.addEventListener!("online", online);
    signal.addEventListener("abort", aborted, { once: true });
  });
  return now() - since;
}
