/**
 * Where every operation of the in-memory stores starts: on a later turn of the event loop, as a store's reply comes,
 * so that concurrent callers interleave between operations (each operation itself is one synchronous step).
 */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
