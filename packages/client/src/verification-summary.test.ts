import { VERIFICATION_EXAMPLES, type Verification } from "@upload-gateway/contract";
import { describe, expect, it } from "vitest";
import { describeVerification, formatMediaDuration } from "./verification-summary";

const media = VERIFICATION_EXAMPLES.passed.media;

describe("describeVerification", () => {
  it("says a video's type, duration, resolution and codecs", () => {
    const v: Verification = { state: "passed", detectedMimeType: "video/mp4", media };
    expect(describeVerification(v)).toBe("video/mp4, 8:34, 1920×1080, h264/aac");
  });

  it("leaves out what the file has not: audio has no resolution, a silent video one codec, a PDF no media", () => {
    const audio = { ...media, container: "mp3", width: null, height: null, frameRate: null, videoCodec: null };
    expect(
      describeVerification({ state: "passed", detectedMimeType: "audio/mpeg", media: { ...audio, audioCodec: "mp3" } }),
    ).toBe("audio/mpeg, 8:34, mp3");
    expect(
      describeVerification({ state: "passed", detectedMimeType: "video/webm", media: { ...media, audioCodec: null } }),
    ).toBe("video/webm, 8:34, 1920×1080, h264");
    expect(describeVerification({ state: "passed", detectedMimeType: "application/pdf" })).toBe("application/pdf");
    // Fields a gateway left out (not null) are no facts either: never "undefined×undefined".
    const sparse = { container: "mp4", durationSeconds: 7 } as unknown as typeof media;
    expect(describeVerification({ state: "passed", detectedMimeType: "video/mp4", media: sparse })).toBe(
      "video/mp4, 0:07",
    );
  });

  it("gives a refused file's reason in plain words, else what its code means", () => {
    const reason = "declared video/mp4, found an HTML page (text/html)";
    expect(
      describeVerification({ state: "failed", detectedMimeType: "text/html", code: "TYPE_MISMATCH", reason }),
    ).toBe(reason);
    expect(describeVerification({ state: "failed", detectedMimeType: "video/mp4", code: "DURATION_TOO_LONG" })).toBe(
      "The media is longer than maxDurationSeconds.",
    );
    expect(describeVerification({ state: "pending", detectedMimeType: null })).toBe("content check pending");
  });
});

describe("formatMediaDuration", () => {
  it("shows m:ss, or h:mm:ss from an hour on, rounded to the second; nothing odd for a bad number", () => {
    expect([0, 0.4, 7, 514.4, 3723, 36_000, Number.NaN, -3].map(formatMediaDuration)).toEqual([
      "0:00",
      "0:00",
      "0:07",
      "8:34",
      "1:02:03",
      "10:00:00",
      "0:00",
      "0:00",
    ]);
  });
});
