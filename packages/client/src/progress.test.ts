import { describe, expect, it } from "vitest";
import { ProgressTracker, type UploadProgress } from "./progress";

describe("ProgressTracker", () => {
  it("adds up parts in flight, never goes back when a part is retried, and ends at the total", () => {
    let now = 0;
    const events: UploadProgress[] = [];
    const tracker = new ProgressTracker(
      300,
      3,
      (p) => events.push(p),
      () => (now += 200),
    );
    tracker.alreadyDone(100, 1);
    tracker.partProgress(2, 50);
    tracker.partProgress(3, 60);
    tracker.partReset(3); // part 3 failed: its 60 bytes no longer count, but what was shown stays
    tracker.partProgress(2, 80);
    tracker.partDone(2, 100);
    tracker.partProgress(3, 10);
    tracker.partDone(3, 100);
    const sent = events.map((e) => e.bytesSent);
    expect(sent).toEqual([150, 210, 210, 210, 210, 300]);
    expect(events.at(-1)).toMatchObject({ bytesSent: 300, totalBytes: 300, partsDone: 3, partsTotal: 3 });
    expect(events.at(-1)!.bytesPerSecond).toBeGreaterThan(0);
  });

  it("throttles events within a part but always reports a finished part", () => {
    const events: UploadProgress[] = [];
    const tracker = new ProgressTracker(
      100,
      1,
      (p) => events.push(p),
      () => 1000,
    );
    tracker.partProgress(1, 10);
    tracker.partProgress(1, 20);
    tracker.partProgress(1, 30);
    tracker.partDone(1, 100);
    expect(events.map((e) => e.bytesSent)).toEqual([10, 100]);
  });
});
