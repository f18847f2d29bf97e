import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeMediaFixtures, VIDEO_SECONDS } from "../../test/support/media-fixtures";
import { bufferByteSource, ReadLimitError, type ByteSource } from "./byte-source";
import { inspectContent } from "./content-inspector";
import { mp4Index } from "./media-probe";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "inspect-content-"));
  makeMediaFixtures(dir);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fixture = (name: string) => bufferByteSource(readFileSync(join(dir, name)));
const inspect = (name: string) => inspectContent(fixture(name));

describe("inspectContent: media", () => {
  const video = { width: 160, height: 120, frameRate: expect.closeTo(15, 0) as number };
  it.each([
    ["mp4-index-at-end.mp4", "video/mp4", { container: "mp4", videoCodec: "h264", audioCodec: "aac", ...video }],
    ["mp4-index-at-start.mp4", "video/mp4", { container: "mp4", videoCodec: "h264", audioCodec: "aac", ...video }],
    ["fragmented.mp4", "video/mp4", { container: "mp4", videoCodec: "h264", audioCodec: "aac", ...video }],
    ["quicktime.mov", "video/quicktime", { container: "mov", videoCodec: "h264", audioCodec: "aac", ...video }],
    ["clip.webm", "video/webm", { container: "webm", videoCodec: "vp8", audioCodec: "opus", ...video }],
    ["clip.mkv", "video/matroska", { container: "matroska", videoCodec: "h264", audioCodec: "aac", ...video }],
    ["tone.mp3", "audio/mpeg", { container: "mp3", videoCodec: null, audioCodec: "mp3", width: null }],
    ["tone.aac", "audio/aac", { container: "aac", videoCodec: null, audioCodec: "aac", width: null }],
    ["tone.m4a", "audio/x-m4a", { container: "mp4", videoCodec: null, audioCodec: "aac", width: null }],
    [
      "tone.wav",
      "audio/wav",
      {
        container: "wav",
        videoCodec: null,
        audioCodec: "pcm",
        width: null,
        bitRate: expect.closeTo(128_000, -3) as number,
      },
    ],
  ])("%s: %s, its container's facts", async (name, type, facts) => {
    const result = await inspect(name);
    expect(result.detectedMimeType).toBe(type);
    expect(result.media).toMatchObject(facts);
    expect(result.media!.durationSeconds).toBeGreaterThan(VIDEO_SECONDS - 0.2);
    expect(result.media!.durationSeconds).toBeLessThan(VIDEO_SECONDS + 0.2);
    expect(result.media!.bitRate).toBeGreaterThan(0);
    expect(result.anomalies).toEqual([]);
    expect(result.mediaProblem).toBeUndefined();
  });
});

describe("inspectContent: hostile files, each as if declared video/mp4", () => {
  it.each([
    ["page.html", "text/html"],
    ["script.svg", "image/svg+xml"],
    ["program.elf", "application/x-elf"],
    ["archive.zip", "application/zip"],
  ])("%s is found to be %s, with no media", async (name, type) => {
    const result = await inspect(name);
    expect(result.detectedMimeType).toBe(type);
    expect(result.media).toBeUndefined();
  });

  it("an MP4 carrying an HTML page with a script: media, and embedded markup", async () => {
    const result = await inspect("polyglot-markup.mp4");
    expect(result.detectedMimeType).toBe("video/mp4");
    expect(result.anomalies).toContain("embedded-markup");
  });

  it("an MP4 with a ZIP archive appended: a trailing archive", async () => {
    const result = await inspect("polyglot-zip.mp4");
    expect(result.detectedMimeType).toBe("video/mp4");
    expect(result.anomalies).toContain("trailing-archive");
  });

  it("an MP4 cut before its index: an MP4 signature, no media (undecodable)", async () => {
    const result = await inspect("truncated-before-index.mp4");
    expect(result.detectedMimeType).toBe("video/mp4");
    expect(result.media).toBeUndefined();
    expect(result.mediaProblem).toBe("undecodable");
  });

  it("an MP4 cut after its index: its facts, and truncated", async () => {
    const result = await inspect("truncated.mp4");
    expect(result.detectedMimeType).toBe("video/mp4");
    expect(result.anomalies).toContain("truncated");
  });

  it("an MP4 whose index claims 10 hours in a few KB: the claimed duration, called implausible", async () => {
    const result = await inspect("ten-hours.mp4");
    expect(result.media?.durationSeconds).toBeGreaterThanOrEqual(36_000);
    expect(result.anomalies).toContain("implausible-duration");
  });

  it("an empty file: application/x-empty, nothing read", async () => {
    const result = await inspect("empty.mp4");
    expect(result).toMatchObject({
      detectedMimeType: "application/x-empty",
      anomalies: [],
      read: { requests: 0, bytes: 0 },
    });
    expect(result.media).toBeUndefined();
  });

  it("random bytes: application/octet-stream; text: text/plain", async () => {
    const random = await inspectContent(
      bufferByteSource(Uint8Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251)),
    );
    expect(random.detectedMimeType).toBe("application/octet-stream");
    const text = await inspectContent(bufferByteSource(Buffer.from("Grüße, a plain note.\n".repeat(100))));
    expect(text.detectedMimeType).toBe("text/plain");
  });
});

describe("inspectContent: bounds", () => {
  it("reads at most maxReadBytes of a large MP4 and still finds its facts", async () => {
    // The fixture's samples repeated behind its index: a parser reading on through them would read it all.
    const mp4 = readFileSync(join(dir, "mp4-index-at-start.mp4"));
    const padded = Buffer.concat([mp4, Buffer.alloc(20 * 1024 * 1024, 1)]);
    const result = await inspectContent(bufferByteSource(padded), { maxReadBytes: 1024 * 1024 });
    expect(result.read.bytes).toBeLessThanOrEqual(1024 * 1024);
    expect(result.media).toMatchObject({ container: "mp4", width: 160 });
  });

  it("stops reading an MP4 once its index is read, at either end: a small part of the limit", async () => {
    // 6 MiB of real samples (noise does not compress): MediaInfo on its own reads on through them after the index.
    const ffmpeg = (...args: string[]) => execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args]);
    const atEnd = join(dir, "samples-index-at-end.mp4");
    const atStart = join(dir, "samples-index-at-start.mp4");
    const inputs = [
      "-f",
      "lavfi",
      "-i",
      "testsrc2=size=320x240:rate=25:duration=4",
      "-f",
      "lavfi",
      "-i",
      "sine=duration=4",
    ];
    const codecs = [
      "-vf",
      "noise=alls=80:allf=t",
      "-c:v",
      "libx264",
      "-preset",
      "ultrafast",
      "-qp",
      "0",
      "-c:a",
      "aac",
    ];
    ffmpeg(...inputs, ...codecs, atEnd);
    ffmpeg("-i", atEnd, "-c", "copy", "-movflags", "+faststart", atStart);
    for (const path of [atEnd, atStart]) {
      const bytes = readFileSync(path);
      expect(bytes.length).toBeGreaterThan(6 * 1024 * 1024);
      const result = await inspectContent(bufferByteSource(bytes));
      expect(result.media, path).toMatchObject({ container: "mp4", width: 320, audioCodec: "aac" });
      expect(result.read.bytes, path).toBeLessThan(1024 * 1024);
    }
  });

  it("finds the index of a plain MP4 at either end, none in a fragmented or a cut one", async () => {
    const at = (name: string) => mp4Index(fixture(name));
    const atStart = await at("mp4-index-at-start.mp4");
    const atEnd = await at("mp4-index-at-end.mp4");
    expect(atStart?.start).toBeLessThan(100);
    expect(atEnd?.end).toBe(readFileSync(join(dir, "mp4-index-at-end.mp4")).length);
    expect(await at("fragmented.mp4")).toBeUndefined();
    expect(await at("truncated-before-index.mp4")).toBeUndefined();
    expect(await at("clip.webm")).toBeUndefined();
  });

  it("gives up a source that stops answering at the time limit, and says so (a retry), never a verdict", async () => {
    // A 1 MiB MP4 whose first block is served and whose later reads never answer (the store hangs).
    const bytes = Buffer.concat([readFileSync(join(dir, "mp4-index-at-end.mp4")), Buffer.alloc(1024 * 1024)]);
    const mp4 = bufferByteSource(bytes);
    let reads = 0;
    const stalling: ByteSource = {
      size: mp4.size,
      read: (offset, length) => (reads++ === 0 ? mp4.read(offset, length) : new Promise<Uint8Array>(() => {})),
    };
    const failure = await inspectContent(stalling, { timeoutMs: 300 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ReadLimitError);
    expect(failure).toMatchObject({ limit: "time" });
  });

  it("throws when the source fails (the store is down), so that the caller retries instead of judging", async () => {
    const failing: ByteSource = { size: 1000, read: () => Promise.reject(new Error("store unavailable")) };
    await expect(inspectContent(failing)).rejects.toThrow("store unavailable");
  });

  it("throws when the store fails during signature detection (an ID3 tag sends file-type past the first block)", async () => {
    // An ID3v2 tag declaring 1 MiB: file-type skips it and reads what follows, beyond what was read first.
    const tag = Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, 0x00, 0x40, 0x00, 0x00]);
    const bytes = Buffer.concat([tag, Buffer.alloc(2 * 1024 * 1024)]);
    const inner = bufferByteSource(bytes);
    // Only the middle fails: the head and the tail, which the inspection reads itself, are served.
    const failingInTheMiddle: ByteSource = {
      size: bytes.length,
      read: (offset, length) =>
        offset > 512 * 1024 && offset < bytes.length - 64 * 1024
          ? Promise.reject(new Error("store unavailable"))
          : inner.read(offset, length),
    };
    await expect(inspectContent(failingInTheMiddle)).rejects.toThrow("store unavailable");
  });

  it("inspects several objects at once, each with its own facts", async () => {
    const names = ["mp4-index-at-end.mp4", "clip.webm", "tone.wav", "clip.mkv"];
    const results = await Promise.all(names.map((name) => inspect(name)));
    expect(results.map((r) => r.media?.container)).toEqual(["mp4", "webm", "wav", "matroska"]);
  });
});
