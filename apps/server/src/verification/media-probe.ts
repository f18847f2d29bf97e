import type { MediaInfo as MediaInfoOf } from "mediainfo.js" with { "resolution-mode": "import" };
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { MediaFacts } from "@upload-gateway/contract";
import { isByteLimit, ReadLimitError, type ByteSource } from "./byte-source";

type MediaInfo = MediaInfoOf<"JSON">;

/**
 * The facts of an audio or video container, read from its index and headers: the contract's `MediaFacts`, what the
 * API's `verification.media` carries. `null` where the container does not say (an audio file has no width).
 */
export type { MediaFacts };

export interface MediaProbe {
  /** The container's facts; `undefined` when the bytes hold no audio or video track MediaInfo can read. */
  media?: MediaFacts;
  /** MediaInfo says the file is shorter than its own structure says (cut off). */
  truncated: boolean;
  /** The parser stopped at the read limit before it was done. Facts found until then stand. */
  stopped?: "limit";
}

/** The bytes MediaInfo is handed per read: small, as it seeks often (the read-ahead below groups them). */
const CHUNK = 64 * 1024;

/**
 * MediaInfoLib (WebAssembly, `mediainfo.js`), chosen over ffprobe by the measurement in this folder's README: on a
 * 1 GiB MP4 it finds the same facts in 1-4 MiB of ranged reads in-process, where ffprobe needs an HTTP URL, a process
 * and 4.5-8.6 MiB. `mediainfo.js`'s own `analyzeData` feeds the parser until it is done, which for an MP4 means
 * reading its samples after the index (35 MiB of a 58 MiB file, 36 MiB of a 1 GiB one, whatever the chunk size; the
 * package exposes no parse-speed option, and `full: false` is already its default). The loop here is `analyzeData`'s
 * with two stops: a plain MP4/MOV's facts are all in its index (`moov`), so it ends once the index is read, wherever
 * it is (`mp4Index`; 0.7-0.8 MiB for the 1 GiB file); any other file ends at the read limit at the latest, which the
 * source enforces (a `limitedByteSource`): stopping there loses only what the samples would add.
 * One instance, one analysis at a time (it is synchronous WebAssembly between reads); loaded on first use.
 */
let instance: Promise<MediaInfo> | undefined;
let queue: Promise<unknown> = Promise.resolve();

function mediaInfo(): Promise<MediaInfo> {
  if (!instance) {
    const loading = import("mediainfo.js").then((module) => module.default({ format: "JSON", chunkSize: CHUNK }));
    loading.catch(() => {
      if (instance === loading) instance = undefined;
    });
    instance = loading;
  }
  return instance;
}

export interface ProbeLimits {
  /** A `Date.now()` value: once it passed, the probe fails with a `ReadLimitError` (`time`): retry it. */
  deadline: number;
  /**
   * The most bytes handed to the parser. Reads from a cache cost the store nothing, so a hostile file whose index sends
   * the parser back and forth between two places would otherwise be fed forever.
   */
  maxFedBytes: number;
}

/** Chunks handed to the parser between two turns of the event loop (each is synchronous WebAssembly). */
const CHUNKS_PER_TURN = 8;

/**
 * Reads the container's facts through `source`, which bounds the bytes read from the store (a `limitedByteSource`);
 * `limits` bound the time and what the parser is fed. At a byte limit the parser is finalized with what it found.
 * Never throws for what the bytes are; a failing source, and the time limit, are thrown (`ReadLimitError`, `time`).
 */
export function probeMedia(source: ByteSource, limits: ProbeLimits): Promise<MediaProbe> {
  const run = queue.then(() => analyze(source, limits));
  queue = run.catch(() => {});
  return run;
}

async function analyze(source: ByteSource, limits: ProbeLimits): Promise<MediaProbe> {
  if (source.size === 0) return { truncated: false };
  const mi = await mediaInfo();
  let stopped: MediaProbe["stopped"];
  let report: string;
  try {
    const index = await mp4Index(source);
    let indexFedUntil = index?.start ?? 0;
    mi.reset();
    mi.openBufferInit(source.size, 0);
    let offset = 0;
    let lastSeek = -1;
    let fed = 0;
    for (let chunks = 1; offset < source.size; chunks++) {
      if (Date.now() >= limits.deadline) throw new ReadLimitError("time limit reached", "time");
      if (fed >= limits.maxFedBytes) {
        stopped = "limit";
        break;
      }
      // Cached reads resolve at once: without a turn of the event loop now and then, a long parse would hold it.
      if (chunks % CHUNKS_PER_TURN === 0) await yieldToEventLoop();
      let data: Uint8Array;
      try {
        data = await source.read(offset, Math.min(CHUNK, source.size - offset));
      } catch (error) {
        if (!isByteLimit(error)) throw error;
        stopped = "limit";
        break;
      }
      if (data.length === 0) break;
      fed += data.length;
      const finished = mi.openBufferContinue(data, data.length);
      if (index && offset <= indexFedUntil && offset + data.length > indexFedUntil)
        indexFedUntil = offset + data.length;
      // The whole index is in: what the samples would add (MediaInfo's frame analysis) is not needed.
      if (index && indexFedUntil >= index.end) break;
      const seekTo = mi.openBufferContinueGotoGet();
      if (seekTo !== -1) {
        // Past the end, or the same place twice without progress: the parser cannot be satisfied (a hostile index).
        if (seekTo === lastSeek || seekTo >= source.size) break;
        offset = lastSeek = seekTo;
        // -1 keeps the parser's state and only moves its position (see mediainfo.js's analyzeData).
        mi.openBufferInit(finished ? source.size : -1, seekTo);
        continue;
      }
      lastSeek = -1;
      offset += data.length;
      if (finished) break;
    }
    mi.openBufferFinalize();
    report = mi.inform();
  } catch (error) {
    // The WebAssembly instance may be left broken (an abort inside MediaInfoLib): the next analysis makes a new one.
    instance = undefined;
    if (isByteLimit(error)) return { truncated: false, stopped: "limit" };
    throw error;
  }
  return { ...factsOf(report), ...(stopped ? { stopped } : {}) };
}

/** Top-level boxes walked at most, looking for the index. */
const MAX_TOP_LEVEL_BOXES = 64;

/**
 * Where a plain (not fragmented) MP4/MOV keeps its index (`moov`): the facts are all in it, so feeding MediaInfo the
 * file up to the index's end is enough, wherever the index is. Walks the top-level box headers (16 bytes each) until
 * the index and a media data box after or before it are found; `undefined` when the file is not such an MP4, is
 * fragmented (`moof`: its facts are spread over the fragments), or a read is refused.
 */
export async function mp4Index(source: ByteSource): Promise<{ start: number; end: number } | undefined> {
  let offset = 0;
  let index: { start: number; end: number } | undefined;
  let mediaData = false;
  try {
    for (let boxes = 0; boxes < MAX_TOP_LEVEL_BOXES && offset + 8 <= source.size; boxes++) {
      const header = Buffer.from(await source.read(offset, 16));
      if (header.length < 8) return undefined;
      const type = header.toString("latin1", 4, 8);
      if (boxes === 0 && type !== "ftyp") return undefined;
      let size = header.readUInt32BE(0);
      if (size === 1) {
        if (header.length < 16) return undefined;
        size = Number(header.readBigUInt64BE(8));
      } else if (size === 0) {
        size = source.size - offset; // to the end of the file
      }
      if (size < 8 || !Number.isSafeInteger(offset + size)) return undefined;
      if (type === "moof") return undefined;
      if (type === "moov") index = { start: offset, end: Math.min(offset + size, source.size) };
      if (type === "mdat") mediaData = true;
      if (index && mediaData) return index;
      offset += size;
    }
  } catch (error) {
    if (isByteLimit(error)) return undefined;
    throw error;
  }
  return index && mediaData ? index : undefined;
}

type Track = Record<string, unknown> & { "@type"?: string };

/** The facts in MediaInfo's JSON report. */
export function factsOf(report: string): Omit<MediaProbe, "stopped"> {
  let tracks: Track[] = [];
  try {
    tracks = (JSON.parse(report) as { media?: { track?: Track[] } }).media?.track ?? [];
  } catch {
    return { truncated: false };
  }
  const general = tracks.find((t) => t["@type"] === "General") ?? {};
  const video = tracks.find((t) => t["@type"] === "Video");
  const audio = tracks.find((t) => t["@type"] === "Audio");
  const extra = (general.extra ?? {}) as Track;
  const truncated = general.IsTruncated === "Yes" || extra.IsTruncated === "Yes";
  if (!video && !audio) return { truncated };
  const duration = num(general.Duration) ?? num(video?.Duration) ?? num(audio?.Duration);
  return {
    truncated,
    media: {
      container: containerOf(general, audio),
      durationSeconds: duration,
      width: int(video?.Width),
      height: int(video?.Height),
      frameRate: num(video?.FrameRate) ?? null,
      videoCodec: video ? codecOf(VIDEO_CODECS, video) : null,
      audioCodec: audio ? codecOf(AUDIO_CODECS, audio) : null,
      bitRate: int(general.OverallBitRate) ?? int(audio?.BitRate) ?? null,
    },
  };
}

const CONTAINERS: Record<string, string> = {
  "MPEG-4": "mp4",
  QuickTime: "mov",
  Matroska: "matroska",
  WebM: "webm",
  ADTS: "aac",
  ADIF: "aac",
  Wave: "wav",
  Ogg: "ogg",
  FLAC: "flac",
  AVI: "avi",
  "MPEG-TS": "mpegts",
  "Flash Video": "flv",
  AIFF: "aiff",
};

const VIDEO_CODECS: Record<string, string> = {
  AVC: "h264",
  HEVC: "hevc",
  AV1: "av1",
  VP8: "vp8",
  VP9: "vp9",
  "MPEG-4 Visual": "mpeg4",
  "MPEG Video": "mpeg2video",
  ProRes: "prores",
  JPEG: "mjpeg",
};

const AUDIO_CODECS: Record<string, string> = {
  AAC: "aac",
  Opus: "opus",
  Vorbis: "vorbis",
  PCM: "pcm",
  FLAC: "flac",
  "AC-3": "ac3",
  "E-AC-3": "eac3",
  ALAC: "alac",
};

function containerOf(general: Track, audio: Track | undefined): string {
  const format = str(general.Format) ?? "unknown";
  if (format === "MPEG-4" && str(general.CodecID)?.startsWith("qt")) return "mov";
  if (format === "MPEG Audio") return mpegAudioName(audio);
  return CONTAINERS[format] ?? slug(format);
}

function codecOf(table: Record<string, string>, track: Track): string {
  const format = str(track.Format) ?? "unknown";
  if (format === "MPEG Audio") return mpegAudioName(track);
  return table[format] ?? slug(format);
}

/** MPEG audio by its layer: `mp3`, `mp2`, `mp1`. */
function mpegAudioName(track: Track | undefined): string {
  const layer = /Layer (\d)/.exec(str(track?.Format_Profile) ?? "")?.[1] ?? "3";
  return `mp${layer}`;
}

function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "") || "unknown"
  );
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function num(value: unknown): number | null {
  const n = typeof value === "string" ? Number.parseFloat(value) : typeof value === "number" ? value : Number.NaN;
  return Number.isFinite(n) ? n : null;
}

function int(value: unknown): number | null {
  const n = num(value);
  return n === null ? null : Math.round(n);
}

const ADTS_SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/**
 * The duration and bit rate of raw AAC (ADTS frames, no container, no index), which MediaInfo leaves out unless it
 * reads every frame: estimated from the frames in `head` (the object's first bytes), as players do. `undefined` when
 * `head` holds no whole frame.
 */
export function adtsEstimate(head: Uint8Array, size: number): { durationSeconds: number; bitRate: number } | undefined {
  let at = 0;
  let bytes = 0;
  let samples = 0;
  let rate = 0;
  while (at + 7 <= head.length && head[at] === 0xff && (head[at + 1]! & 0xf6) === 0xf0) {
    const frameLength = ((head[at + 3]! & 0x03) << 11) | (head[at + 4]! << 3) | (head[at + 5]! >> 5);
    rate = ADTS_SAMPLE_RATES[(head[at + 2]! >> 2) & 0x0f] ?? 0;
    if (frameLength < 7 || rate === 0 || at + frameLength > head.length) break;
    bytes += frameLength;
    samples += ((head[at + 6]! & 0x03) + 1) * 1024;
    at += frameLength;
  }
  if (bytes === 0 || rate === 0) return undefined;
  const durationSeconds = Math.round(((size * samples) / bytes / rate) * 1000) / 1000;
  return { durationSeconds, bitRate: Math.round((bytes * 8 * rate) / samples) };
}
