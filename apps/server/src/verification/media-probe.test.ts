import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDebianTool } from "../../test/support/debian-tool";
import { bufferByteSource, countingByteSource } from "./byte-source";
import { factsOf, probeMedia } from "./media-probe";

let dir: string;
let fragmented: Buffer;
beforeAll(() => {
  ensureDebianTool(["ffmpeg", "-version"], "ffmpeg");
  dir = mkdtempSync(join(tmpdir(), "media-probe-"));
  // A fragmented MP4 of 6+ MiB of real samples: no single index, so MediaInfo reads on through its fragments.
  const path = join(dir, "fragmented.mp4");
  execFileSync("ffmpeg", [
    "-hide_banner",
    "-loglevel",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=320x240:rate=25:duration=4",
    "-vf",
    "noise=alls=80:allf=t",
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-qp",
    "0",
    "-movflags",
    "frag_keyframe+empty_moov+default_base_moof",
    "-frag_duration",
    "200000",
    path,
  ]);
  fragmented = readFileSync(path);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const far = () => Date.now() + 60_000;

describe("probeMedia's limits", () => {
  it("feeds the parser at most maxFedBytes, even from a source whose reads cost nothing", async () => {
    expect(fragmented.length).toBeGreaterThan(6 * 1024 * 1024);
    const { source, stats } = countingByteSource(bufferByteSource(fragmented));
    const probe = await probeMedia(source, { deadline: far(), maxFedBytes: 512 * 1024 });
    expect(probe.stopped).toBe("limit");
    expect(stats.bytes).toBeLessThanOrEqual(512 * 1024 + 64 * 1024);
    expect(probe.media).toMatchObject({ container: "mp4", videoCodec: "h264", width: 320 });
  });

  it("fails at the deadline with a time limit (a retry: the bytes were not judged)", async () => {
    const { source, stats } = countingByteSource(bufferByteSource(fragmented));
    const probing = probeMedia(source, { deadline: Date.now() - 1, maxFedBytes: 1e9 });
    await expect(probing).rejects.toMatchObject({ name: "ReadLimitError", limit: "time" });
    expect(stats.bytes).toBeLessThanOrEqual(64 * 16); // the top-level box headers the index search reads, no more
  });
});

describe("factsOf", () => {
  const report = (...track: object[]) => JSON.stringify({ media: { track } });

  it("names QuickTime, MPEG audio layers and unknown formats; reads truncation from the extra fields", () => {
    const mov = factsOf(
      report(
        { "@type": "General", Format: "MPEG-4", CodecID: "qt  ", Duration: "1.5" },
        { "@type": "Video", Format: "ProRes", Width: "640" },
      ),
    );
    expect(mov.media).toMatchObject({
      container: "mov",
      videoCodec: "prores",
      width: 640,
      durationSeconds: 1.5,
      audioCodec: null,
    });
    const mp2 = factsOf(
      report(
        { "@type": "General", Format: "MPEG Audio" },
        { "@type": "Audio", Format: "MPEG Audio", Format_Profile: "Layer 2" },
      ),
    );
    expect(mp2.media).toMatchObject({ container: "mp2", audioCodec: "mp2", durationSeconds: null, bitRate: null });
    const odd = factsOf(
      report(
        { "@type": "General", Format: "Some New Format", extra: { IsTruncated: "Yes" } },
        { "@type": "Audio", Format: "Fancy Codec 2" },
      ),
    );
    expect(odd).toMatchObject({
      truncated: true,
      media: { container: "some-new-format", audioCodec: "fancy-codec-2" },
    });
  });

  it("no audio or video track, or a report that is not JSON: no media", () => {
    expect(factsOf(report({ "@type": "General", Format: "ZIP" }))).toEqual({ truncated: false });
    expect(factsOf("not json")).toEqual({ truncated: false });
  });
});
