export interface UploadProgress {
  /** Bytes stored so far, including parts stored before a resume and parts in flight. Never decreases. */
  bytesSent: number;
  totalBytes: number;
  partsDone: number;
  partsTotal: number;
  /** Recent speed of this session's sending, averaged over the last few seconds. */
  bytesPerSecond: number;
}

const WINDOW_MS = 5_000;
const EMIT_EVERY_MS = 100;

/** Adds up part progress into monotonic, throttled progress events with a recent speed. */
export class ProgressTracker {
  private doneBytes = 0;
  private partsDone = 0;
  private readonly inFlight = new Map<number, number>();
  private reported = 0;
  private lastEmit = 0;
  private readonly samples: { at: number; bytes: number }[] = [];

  constructor(
    private readonly totalBytes: number,
    private readonly partsTotal: number,
    private readonly listener: ((progress: UploadProgress) => void) | undefined,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Parts already stored when the upload (re)starts. */
  alreadyDone(bytes: number, parts: number): void {
    this.doneBytes += bytes;
    this.partsDone += parts;
    this.reported = Math.max(this.reported, this.doneBytes);
  }

  partProgress(partNumber: number, loaded: number): void {
    this.inFlight.set(partNumber, loaded);
    this.emit(false);
  }

  /** A part's attempt failed or was paused: its bytes in flight no longer count (the total shown does not go back). */
  partReset(partNumber: number): void {
    this.inFlight.delete(partNumber);
  }

  partDone(partNumber: number, size: number): void {
    this.inFlight.delete(partNumber);
    this.doneBytes += size;
    this.partsDone += 1;
    this.emit(true);
  }

  snapshot(): UploadProgress {
    let bytes = this.doneBytes;
    for (const loaded of this.inFlight.values()) bytes += loaded;
    this.reported = Math.min(this.totalBytes, Math.max(this.reported, bytes));
    const at = this.now();
    this.samples.push({ at, bytes: this.reported });
    while (this.samples.length > 2 && this.samples[0]!.at < at - WINDOW_MS) this.samples.shift();
    const first = this.samples[0]!;
    const elapsed = (at - first.at) / 1000;
    return {
      bytesSent: this.reported,
      totalBytes: this.totalBytes,
      partsDone: this.partsDone,
      partsTotal: this.partsTotal,
      bytesPerSecond: elapsed > 0 ? Math.round((this.reported - first.bytes) / elapsed) : 0,
    };
  }

  emit(force: boolean): void {
    if (!this.listener) return;
    const at = this.now();
    if (!force && at - this.lastEmit < EMIT_EVERY_MS) return;
    this.lastEmit = at;
    this.listener(this.snapshot());
  }
}
