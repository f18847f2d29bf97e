import type { UploadProgress } from "./progress";
import { retryingStatus, type RetryNotice } from "./retry-budget";
import { formatMediaDuration } from "./verification-summary";

/**
 * The CLI's progress line on stderr: bar, percent, bytes, speed, time left and parts; while an operation is retried,
 * what is retried and how long is left ("store unreachable, retrying (2:10 left)").
 */
export class ProgressBar {
  private lastDraw = 0;
  private last: UploadProgress | undefined;
  /** While an outage lasts: what is retried, and when its budget ends (redrawn each second, as no progress comes). */
  private outage: { notice: RetryNotice; endsAt: number; bytesSent: number; timer: NodeJS.Timeout } | undefined;

  /** Shows "store unreachable, retrying (2:10 left)" on the line until bytes move again. */
  retrying(notice: RetryNotice): void {
    clearInterval(this.outage?.timer);
    const timer = setInterval(() => this.draw(this.last), 1000).unref();
    const endsAt = Date.now() + notice.delayMs + notice.leftMs;
    this.outage = { notice, endsAt, bytesSent: this.last?.bytesSent ?? 0, timer };
    this.draw(this.last);
  }

  update(p: UploadProgress): void {
    this.last = p;
    if (this.outage && p.bytesSent > this.outage.bytesSent) {
      clearInterval(this.outage.timer);
      this.outage = undefined;
    }
    const now = Date.now();
    if (now - this.lastDraw < 100 && p.bytesSent < p.totalBytes) return;
    this.draw(p);
  }

  /** Draws the line; before the first progress (the start being retried), only what is retried. */
  private draw(p: UploadProgress | undefined): void {
    const now = Date.now();
    this.lastDraw = now;
    const status = this.outage ? retryingStatus(this.outage.notice, this.outage.endsAt - now) : "";
    if (!p) {
      process.stderr.write(`\r${status}\x1b[K`);
      return;
    }
    const width = Math.max(10, Math.min(40, (process.stderr.columns ?? 80) - 60));
    const ratio = p.totalBytes === 0 ? 1 : p.bytesSent / p.totalBytes;
    const filled = Math.round(ratio * width);
    const eta = p.bytesPerSecond > 0 ? (p.totalBytes - p.bytesSent) / p.bytesPerSecond : undefined;
    const line =
      `[${"█".repeat(filled)}${"░".repeat(width - filled)}] ${(ratio * 100).toFixed(1).padStart(5)}%  ` +
      `${formatBytes(p.bytesSent)}/${formatBytes(p.totalBytes)}  ${formatBytes(p.bytesPerSecond)}/s  ` +
      `ETA ${eta === undefined ? "--:--" : formatMediaDuration(eta)}  parts ${p.partsDone}/${p.partsTotal}` +
      (status ? `  ${status}` : "");
    process.stderr.write(`\r${line}\x1b[K`);
  }

  finish(): void {
    clearInterval(this.outage?.timer);
    process.stderr.write("\n");
  }
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
