import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { signalListeners, stopOnSignals, type Stoppable } from "./stop-signals";

/** The stop's control flow, without signals: listeners are called directly (emitting SIGTERM would reach vitest's). */

type Listener = (...args: unknown[]) => void;
let release: (() => void) | undefined;
const foreign: Listener = () => undefined;

afterEach(() => {
  release?.();
  release = undefined;
  process.removeListener("SIGTERM", foreign);
});

function setUp(close: () => Promise<void>) {
  const lines: Record<string, unknown>[] = [];
  const destination = { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) };
  const log = pino({ level: "info" }, destination);
  const exits: number[] = [];
  const before = signalListeners();
  const existing = new Set(process.listeners("SIGTERM"));
  process.on("SIGTERM", foreign); // as Nest's enableShutdownHooks does while the app is built
  const app: Stoppable = { close };
  release = stopOnSignals(app, log, before, (code) => exits.push(code));
  const added = process.listeners("SIGTERM").filter((l) => !existing.has(l)) as Listener[];
  return { lines, exits, added };
}

describe("stopOnSignals", () => {
  it("replaces the listeners added since the snapshot (Nest's, which re-raise the signal) with its own", () => {
    const { added } = setUp(() => Promise.resolve());
    expect(added).toHaveLength(1);
    expect(added).not.toContain(foreign);
  });

  it("logs the beginning, closes, logs the end and exits 0", async () => {
    let closed!: () => void;
    const { lines, exits, added } = setUp(() => new Promise<void>((resolve) => (closed = resolve)));
    added[0]!("SIGTERM");
    expect(lines.map((l) => l.msg)).toEqual([expect.stringMatching(/^SIGTERM received: stopping/)]);
    expect(exits).toEqual([]);
    closed();
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines[1]).toMatchObject({ msg: "Upload Gateway stopped", signal: "SIGTERM" });
    expect(exits).toEqual([0]);
  });

  it("exits 1 at once on a second signal while stopping, and 1 when the close fails", async () => {
    const hung = setUp(() => new Promise<void>(() => undefined));
    hung.added[0]!("SIGTERM");
    hung.added[0]!("SIGTERM");
    expect(hung.exits).toEqual([1]);
    expect(hung.lines[1]).toMatchObject({ level: 40, msg: expect.stringContaining("again while stopping") });
    release?.();

    const failing = setUp(() => Promise.reject(new Error("disk gone")));
    failing.added[0]!("SIGTERM");
    await new Promise((resolve) => setImmediate(resolve));
    expect(failing.exits).toEqual([1]);
    expect(failing.lines[1]).toMatchObject({ level: 50, msg: "Upload Gateway did not stop cleanly" });
  });
});
