import type { DueIndex } from "../scheduling/due-index";

/** The due index's kind of upload expiries; an entry's id is the project's. */
export const EXPIRY_KIND = "upload-expiry";
/**
 * Windows noted at most (about 100 bytes each): past it the notes start afresh, and a start per project and window
 * writes its entry again (found there: harmless).
 */
const MAX_NOTED = 100_000;

/**
 * When the expiry looks at a project's uploads: entries of the due index, one per project and time window (the
 * window, UPLOAD_EXPIRY_SWEEP_SECONDS wide, in which its uploads' URLs plus the grace run out), so that a start costs
 * no request of its own for it: the first start of a project in a window writes the window's entry (alongside its
 * other requests, not after them), the others find it noted in this process. The entry is due at the window's end,
 * when the expiry aborts the project's uploads whose URLs have run out (upload-expiry.sweeper.ts).
 *
 * Noting a window is safe for good: its entry is worked on only once the window has ended, and every upload started
 * after that has URLs that stop after the window's end, so its entry is a later window's.
 */
export class ExpirySchedule {
  /** Entries this process has written (or found written), by key; forgotten once due. */
  private readonly noted = new Map<string, number>();

  constructor(
    private readonly index: DueIndex,
    private readonly windowMs: number,
    private readonly graceMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The end of the window in which an upload whose URLs stop at `expiresAt` is expired (strictly after the grace). */
  dueAtOf(expiresAt: number): number {
    return (Math.floor((expiresAt + this.graceMs) / this.windowMs) + 1) * this.windowMs;
  }

  /** Makes sure the expiry looks at the project's uploads once URLs ending at `expiresAt` (ms) are past the grace. */
  async ensure(projectId: string, expiresAt: number): Promise<void> {
    const dueAt = this.dueAtOf(expiresAt);
    const noted = `${projectId}\n${dueAt}`;
    if (this.noted.has(noted)) return;
    await this.index.schedule(EXPIRY_KIND, projectId, dueAt);
    this.forgetPast();
    this.noted.set(noted, dueAt);
  }

  private forgetPast(): void {
    const now = this.now();
    for (const [key, dueAt] of this.noted) if (dueAt < now) this.noted.delete(key);
    if (this.noted.size >= MAX_NOTED) this.noted.clear();
  }
}
