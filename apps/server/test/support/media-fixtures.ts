import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { ensureDebianTool } from "./debian-tool";

/**
 * Real media made with Debian's ffmpeg (installed if missing), and hostile files made from them, each a few KB to a
 * few tens of KB, written into `dir`. Their names are the keys of `MEDIA_FIXTURES` and `HOSTILE_FIXTURES`.
 */
export const MEDIA_FIXTURES = {
  /** MP4, H.264 + AAC, the index (`moov`) at the end: what ffmpeg and phones write by default. */
  "mp4-index-at-end.mp4": "mp4",
  /** The same, `+faststart`: the index at the start. */
  "mp4-index-at-start.mp4": "mp4",
  /** Fragmented MP4 (`moof` boxes, an empty `moov`), as streaming encoders write. */
  "fragmented.mp4": "mp4",
  "quicktime.mov": "mov",
  /** WebM: VP8 + Opus. */
  "clip.webm": "webm",
  /** Matroska: H.264 + AAC. */
  "clip.mkv": "matroska",
  "tone.mp3": "mp3",
  /** AAC in ADTS frames, no container. */
  "tone.aac": "aac",
  "tone.m4a": "mp4",
  "tone.wav": "wav",
} as const;

export const HOSTILE_FIXTURES = [
  "page.html",
  "script.svg",
  "program.elf",
  "archive.zip",
  /** An MP4 (index at the start) whose metadata is an HTML page with a script. */
  "polyglot-markup.mp4",
  /** An MP4 with a ZIP archive appended (GIFAR-style). */
  "polyglot-zip.mp4",
  /** The first half of an MP4 whose index is at the end: cut before its index. */
  "truncated-before-index.mp4",
  /** The first 60% of an MP4 whose index is at the start. */
  "truncated.mp4",
  /** An MP4 whose index claims 10 hours. */
  "ten-hours.mp4",
  "empty.mp4",
] as const;

export const VIDEO_SECONDS = 2;

/**
 * Writes the fixtures into `dir`: copies of one set made per machine, ffmpeg and version of this file (five test files
 * use them; making them took ffmpeg about a second of CPU, and the worker two seconds of waiting, each time).
 */
export function makeMediaFixtures(dir: string): void {
  const made = madeOnce();
  for (const name of [...Object.keys(MEDIA_FIXTURES), ...HOSTILE_FIXTURES])
    copyFileSync(join(made, name), join(dir, name));
}

/** The folder of the fixtures made by this file with this ffmpeg, made now if there is none yet. */
function madeOnce(): string {
  ensureDebianTool(["ffmpeg", "-version"], "ffmpeg");
  const key = createHash("sha256")
    .update(readFileSync(__filename))
    .update(execFileSync("ffmpeg", ["-version"]))
    .digest("hex")
    .slice(0, 16);
  const made = join(tmpdir(), `upload-gateway-media-fixtures-${key}`);
  if (existsSync(made)) return made;
  // Made aside and renamed into place: a worker making them at the same time loses the rename and uses the winner's.
  const staging = mkdtempSync(`${made}-`);
  makeAll(staging);
  try {
    renameSync(staging, made);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(made)) throw error;
  }
  return made;
}

function makeAll(dir: string): void {
  const ffmpeg = (...args: string[]) => execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args]);
  const video = ["-f", "lavfi", "-i", `testsrc2=size=160x120:rate=15:duration=${VIDEO_SECONDS}`];
  const audio = ["-f", "lavfi", "-i", `sine=frequency=440:sample_rate=44100:duration=${VIDEO_SECONDS}`];
  const h264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-b:v", "100k"];
  const aac = ["-c:a", "aac", "-b:a", "32k"];
  const at = (name: string) => join(dir, name);

  ffmpeg(...video, ...audio, ...h264, ...aac, at("mp4-index-at-end.mp4"));
  ffmpeg("-i", at("mp4-index-at-end.mp4"), "-c", "copy", "-movflags", "+faststart", at("mp4-index-at-start.mp4"));
  ffmpeg(
    "-i",
    at("mp4-index-at-end.mp4"),
    "-c",
    "copy",
    "-movflags",
    "frag_keyframe+empty_moov+default_base_moof",
    at("fragmented.mp4"),
  );
  ffmpeg("-i", at("mp4-index-at-end.mp4"), "-c", "copy", "-f", "mov", at("quicktime.mov"));
  ffmpeg(
    ...video,
    ...audio,
    "-c:v",
    "libvpx",
    "-deadline",
    "realtime",
    "-b:v",
    "100k",
    "-c:a",
    "libopus",
    "-b:a",
    "32k",
    at("clip.webm"),
  );
  ffmpeg("-i", at("mp4-index-at-end.mp4"), "-c", "copy", at("clip.mkv"));
  ffmpeg(...audio, "-c:a", "libmp3lame", "-b:a", "32k", at("tone.mp3"));
  ffmpeg(...audio, ...aac, "-f", "adts", at("tone.aac"));
  ffmpeg(...audio, ...aac, at("tone.m4a"));
  ffmpeg(...audio, "-c:a", "pcm_s16le", "-ac", "1", "-ar", "8000", at("tone.wav"));

  writeFileSync(at("page.html"), "<!DOCTYPE html>\n<html><body><script>fetch('/api/steal')</script></body></html>\n");
  writeFileSync(
    at("script.svg"),
    '\ufeff<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">' +
      "<script>alert(document.domain)</script></svg>\n",
  );
  writeFileSync(at("program.elf"), readFileSync("/bin/true"));
  writeFileSync(at("archive.zip"), zipOf("readme.txt", Buffer.from("not a video\n")));
  const markup = "<html><body><script>alert(document.cookie)</script></body></html>";
  ffmpeg(
    "-i",
    at("mp4-index-at-end.mp4"),
    "-c",
    "copy",
    "-movflags",
    "+faststart",
    "-metadata",
    `comment=${markup}`,
    at("polyglot-markup.mp4"),
  );
  const mp4 = readFileSync(at("mp4-index-at-start.mp4"));
  writeFileSync(at("polyglot-zip.mp4"), Buffer.concat([mp4, zipOf("payload.class", Buffer.from("cafebabe", "hex"))]));
  const atEnd = readFileSync(at("mp4-index-at-end.mp4"));
  writeFileSync(at("truncated-before-index.mp4"), atEnd.subarray(0, Math.floor(atEnd.length / 2)));
  writeFileSync(at("truncated.mp4"), mp4.subarray(0, Math.floor(mp4.length * 0.6)));
  writeFileSync(at("ten-hours.mp4"), withClaimedDuration(mp4, 10 * 3600));
  writeFileSync(at("empty.mp4"), Buffer.alloc(0));
}

/** A ZIP archive holding one stored (uncompressed) file. */
export function zipOf(name: string, data: Buffer): Buffer {
  const fileName = Buffer.from(name);
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(fileName.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(fileName.length, 28);
  const centralOffset = local.length + fileName.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + fileName.length, 12);
  end.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([local, fileName, data, central, fileName, end]);
}

/**
 * The MP4 with every duration in its index (`mvhd`, `tkhd`, `mdhd`, version 0 boxes as ffmpeg writes them) set to
 * `seconds`: the samples stay as they were, a few seconds of them.
 */
export function withClaimedDuration(mp4: Buffer, seconds: number): Buffer {
  const out = Buffer.from(mp4);
  let movieTimescale = 1000;
  for (const [type, durationAt, timescaleAt] of [
    ["mvhd", 16, 12],
    ["tkhd", 20, -1],
    ["mdhd", 16, 12],
  ] as const) {
    for (let at = out.indexOf(type); at !== -1; at = out.indexOf(type, at + 4)) {
      const body = at + 4; // version and flags, then the fields
      if (out[body] !== 0) throw new Error(`${type} version ${out[body]} is not handled`);
      const timescale = timescaleAt === -1 ? movieTimescale : out.readUInt32BE(body + timescaleAt);
      if (type === "mvhd") movieTimescale = timescale;
      out.writeUInt32BE(Math.min(0xffffffff, seconds * timescale), body + durationAt);
    }
  }
  return out;
}
