import type { Logger } from "pino";

/** The signals that stop the standalone server cleanly: a process manager's (SIGTERM) and a terminal's (SIGINT). */
export const STOP_SIGNALS = ["SIGTERM", "SIGINT"] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];
type Listener = (...args: unknown[]) => void;

/** The process's listeners for the stop signals now: `stopOnSignals` removes the ones added after this. */
export function signalListeners(): Map<StopSignal, Set<Listener>> {
  return new Map(STOP_SIGNALS.map((signal) => [signal, new Set(process.listeners(signal) as Listener[])]));
}

export interface Stoppable {
  close(): Promise<void>;
}

/**
 * Stops the server on SIGTERM or SIGINT: one log line when the stop begins, `close()` (requests in flight finish, then
 * their connections close), one line when it has stopped, exit 0. A second signal while stopping exits at once (1).
 *
 * Nest's shutdown hooks (`enableShutdownHooks`, kept in createApp for its other users) re-raise the signal once closed:
 * the process then dies of it (exit 143 for SIGTERM) and no line says it stopped. Their listeners for these signals,
 * the ones added since `before`, are removed here: the bin owns its process. Returns what removes its own listeners.
 */
export function stopOnSignals(
  app: Stoppable,
  log: Logger,
  before: Map<StopSignal, Set<Listener>>,
  exit: (code: number) => void = (code) => process.exit(code),
): () => void {
  let stopping = false;
  const stop = (signal: StopSignal) => {
    if (stopping) {
      log.warn({ signal }, `${signal} again while stopping: exiting now, without waiting for the requests in flight`);
      return exit(1);
    }
    stopping = true;
    const began = Date.now();
    log.info({ signal }, `${signal} received: stopping (new connections refused, requests in flight finish)`);
    app.close().then(
      () => {
        log.info({ signal, durationMs: Date.now() - began }, "Upload Gateway stopped");
        exit(0);
      },
      (error: unknown) => {
        log.error({ signal, err: error }, "Upload Gateway did not stop cleanly");
        exit(1);
      },
    );
  };
  for (const signal of STOP_SIGNALS) {
    const kept = before.get(signal) ?? new Set();
    for (const listener of process.listeners(signal) as Listener[]) {
      if (!kept.has(listener)) process.removeListener(signal, listener);
    }
  }
  const listeners = STOP_SIGNALS.map((signal) => [signal, () => stop(signal)] as const);
  for (const [signal, listener] of listeners) process.on(signal, listener);
  return () => {
    for (const [signal, listener] of listeners) process.removeListener(signal, listener);
  };
}
