import { VERIFICATION_EXAMPLES } from "@upload-gateway/contract";
import { describe, expect, it } from "vitest";
import {
  acknowledgedBytes,
  formatEta,
  formatSpeed,
  formatWhen,
  percentOf,
  rejectionSentence,
  verificationFacts,
} from "./format";

const MiB = 1024 * 1024;

describe("acknowledgedBytes", () => {
  it("counts the parts shown done at their planned sizes, the last one short, and nothing of parts in flight", () => {
    const size = 23 * MiB; // 5 parts of 5 MiB, the last 3 MiB
    expect(acknowledgedBytes(["done", "done", "sending", "retrying", "waiting"], 5 * MiB, size)).toBe(10 * MiB);
    expect(acknowledgedBytes(["waiting", "sending", "sending", "sending", "done"], 5 * MiB, size)).toBe(3 * MiB);
    expect(acknowledgedBytes(Array(5).fill("done"), 5 * MiB, size)).toBe(size);
    expect(acknowledgedBytes([], 0, size)).toBe(0);
  });
});

describe("percentOf", () => {
  it("floors, and keeps 100 for the end", () => {
    expect(percentOf(0, 10)).toBe(0);
    expect(percentOf(999, 1000)).toBe(99);
    expect(percentOf(1000, 1000)).toBe(100);
    expect(percentOf(5, 0)).toBe(0);
  });

  it("is right for files past 4 GiB and up to 5 TiB", () => {
    const GiB = 1024 ** 3;
    expect(percentOf(2 * GiB, 4 * GiB + 5 * MiB + 3)).toBe(49);
    expect(percentOf(5 * GiB, 5 * GiB + 3)).toBe(99);
    expect(percentOf(5 * 1024 * GiB - 1, 5 * 1024 * GiB)).toBe(99);
    expect(percentOf(5 * 1024 * GiB, 5 * 1024 * GiB)).toBe(100);
  });
});

describe("formatEta and formatSpeed", () => {
  it("tells the time left at the current speed", () => {
    expect(formatEta(10 * MiB, 2 * MiB)).toBe("about 5 s left");
    expect(formatEta(600 * MiB, 2 * MiB)).toBe("about 5 min left");
    expect(formatEta(8000 * MiB, 1 * MiB)).toBe("about 2 h 13 min left");
    expect(formatEta(10, 0)).toBe("");
    expect(formatEta(0, 100)).toBe("");
  });

  it("shows speed per second, or a dash when nothing moves", () => {
    expect(formatSpeed(3 * MiB)).toBe("3.0 MiB/s");
    expect(formatSpeed(0)).toBe("–");
  });
});

describe("formatWhen", () => {
  const now = Date.parse("2026-11-25T12:00:00Z");
  it("says how long ago", () => {
    expect(formatWhen("2026-11-25T11:59:50Z", now)).toBe("just now");
    expect(formatWhen("2026-11-25T11:57:00Z", now)).toBe("3 min ago");
    expect(formatWhen("2026-11-25T09:00:00Z", now)).toBe("3 h ago");
    expect(formatWhen("2026-11-20T09:00:00Z", now)).toMatch(/2026/);
    expect(formatWhen("nonsense", now)).toBe("");
  });
});

describe("verificationFacts", () => {
  const { media } = VERIFICATION_EXAMPLES.passed;

  it("labels a video's type, duration, resolution and codecs", () => {
    expect(verificationFacts({ state: "passed", detectedMimeType: "video/mp4", media })).toEqual([
      ["Type", "video/mp4"],
      ["Duration", "8:34"],
      ["Resolution", "1920×1080"],
      ["Codecs", "h264/aac"],
    ]);
  });

  it("gives audio no resolution and one codec, a document its type alone, a pending or refused check nothing", () => {
    const mp3 = { ...media, width: null, height: null, frameRate: null, videoCodec: null, audioCodec: "mp3" };
    expect(verificationFacts({ state: "passed", detectedMimeType: "audio/mpeg", media: mp3 })).toEqual([
      ["Type", "audio/mpeg"],
      ["Duration", "8:34"],
      ["Codec", "mp3"],
    ]);
    expect(verificationFacts({ state: "passed", detectedMimeType: "application/pdf" })).toEqual([
      ["Type", "application/pdf"],
    ]);
    expect(verificationFacts({ state: "pending", detectedMimeType: null })).toEqual([]);
    expect(verificationFacts({ state: "failed", detectedMimeType: "text/html", media })).toEqual([]);
    expect(verificationFacts(undefined)).toEqual([]);
  });
});

describe("rejectionSentence", () => {
  it("says who refused the file and why, as one sentence", () => {
    expect(rejectionSentence("declared video/mp4, found an HTML page (text/html)")).toBe(
      "Rejected by the gateway's content check: declared video/mp4, found an HTML page (text/html).",
    );
    expect(rejectionSentence("The media is longer than maxDurationSeconds.")).toBe(
      "Rejected by the gateway's content check: The media is longer than maxDurationSeconds.",
    );
  });
});
