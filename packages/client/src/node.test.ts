import { describe, expect, it } from "vitest";
import { guessMimeType } from "./node";

describe("guessMimeType", () => {
  it.each([
    ["/videos/clip.mp4", "video/mp4"],
    ["CLIP.MKV", "video/x-matroska"],
    ["a.mov", "video/quicktime"],
    ["take 2.webm", "video/webm"],
    ["recording.m2ts", "video/mp2t"],
    ["subtitles.vtt", "text/vtt"],
    ["backup.tar.gz", "application/gzip"],
  ])("names %s as %s, from the maintained registry", (path, type) => {
    expect(guessMimeType(path)).toBe(type);
  });

  it.each(["README", "data.no-such-extension", "trailing."])("falls back to application/octet-stream for %s", (path) => {
    expect(guessMimeType(path)).toBe("application/octet-stream");
  });
});
