import {
  countingByteSource,
  limitedByteSource,
  isByteLimit,
  readAheadByteSource,
  type ByteSource,
  type ReadStats,
} from "./byte-source";
import { embeddedMarkup, MARKUP_SCAN_BYTES, sniffMarkup, trailingArchive } from "./markup-sniff";
import { adtsEstimate, probeMedia, type MediaFacts } from "./media-probe";
import { signatureType } from "./signature-type";

/**
 * Something about the bytes a policy may refuse even when the type is allowed:
 * - `embedded-markup`: HTML or script inside an object that is not text (a polyglot made to be opened as a page);
 * - `trailing-archive`: a ZIP archive appended to an object of another type (GIFAR and its kind);
 * - `truncated`: the container says it is longer than the object (an upload cut off);
 * - `implausible-duration`: the container claims a duration its size cannot hold (under 1 kbit/s; a forged index).
 */
export type ContentAnomaly = "embedded-markup" | "trailing-archive" | "truncated" | "implausible-duration";

export interface ContentInspection {
  /**
   * The type the bytes show: from their signature (`file-type`), else text a browser renders or runs (`text/html`,
   * `image/svg+xml`, `application/xml`, ...), else `text/plain` for UTF-8 text, `application/x-empty` for an empty
   * object and `application/octet-stream` for anything else.
   */
  detectedMimeType: string;
  /** An audio or video type's container facts; `undefined` when the bytes are not readable media. */
  media?: MediaFacts;
  /**
   * Why an audio or video type has no `media`: `undecodable` (no track MediaInfo can read), `limit` (the read limit
   * came first: the object is more than its inspection may read).
   */
  mediaProblem?: "undecodable" | "limit";
  anomalies: ContentAnomaly[];
  /** What the inspection read from `source`: the requests and bytes that reached it. */
  read: ReadStats;
}

export interface InspectOptions {
  /** The most bytes read from the source (default 4 MiB). */
  maxReadBytes?: number;
  /** The longest an inspection takes, reads included (default 10 s). */
  timeoutMs?: number;
}

export const DEFAULT_MAX_READ_BYTES = 4 * 1024 * 1024;
export const DEFAULT_INSPECT_TIMEOUT_MS = 10_000;
/** What signature detection may read of the budget: it seeks (ID3 tags, ZIP directories), the media parser reads on. */
const SIGNATURE_READ_BYTES = 1024 * 1024;
const TAIL_BYTES = 64 * 1024;
/** What the media parser may be fed, as a multiple of what may be read (the rest comes from the read-ahead cache). */
const MAX_FED_FACTOR = 4;
/** A duration is implausible below this many bits per second of the object's size (no codec goes that low). */
const MIN_PLAUSIBLE_BIT_RATE = 1000;

/**
 * What the stored bytes are, read through `source` with at most `maxReadBytes` and `timeoutMs`: the detected type,
 * for audio and video the container's facts, and anomalies. Never throws for what the bytes are (hostile, truncated,
 * empty, more than `maxReadBytes` to parse): it returns what it found. A source that fails (the store is down) is
 * thrown, and so is the time limit (a `ReadLimitError` whose `limit` is `time`: the store or the machine was slow, which
 * says nothing of the bytes), so that a caller retries instead of judging bytes it could not read.
 */
export async function inspectContent(source: ByteSource, options: InspectOptions = {}): Promise<ContentInspection> {
  const maxBytes = options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_INSPECT_TIMEOUT_MS);
  const counted = countingByteSource(source);
  const result: ContentInspection = { detectedMimeType: "application/x-empty", anomalies: [], read: counted.stats };
  if (source.size === 0) return result;
  const limited = limitedByteSource(counted.source, { maxBytes, deadline });
  const cached = readAheadByteSource(limited);

  const head = await readOrUndefined(cached, 0, Math.min(source.size, MARKUP_SCAN_BYTES));
  if (head === undefined) return { ...result, detectedMimeType: "application/octet-stream" };
  // Markup first: file-type calls an SVG or XHTML document that starts with `<?xml` plain `application/xml`.
  const markup = sniffMarkup(head);
  const signature = markup
    ? undefined
    : await signatureType(readAheadByteSource(limitedByteSource(cached, { maxBytes: SIGNATURE_READ_BYTES, deadline })));
  result.detectedMimeType = markup ?? signature ?? (isUtf8Text(head) ? "text/plain" : "application/octet-stream");
  if (markup || result.detectedMimeType === "text/plain") return result;

  if (embeddedMarkup(head)) result.anomalies.push("embedded-markup");
  if (!isZipBased(result.detectedMimeType)) {
    const tailStart = Math.max(0, source.size - TAIL_BYTES);
    const tail =
      tailStart < head.length ? head.subarray(tailStart) : await readOrUndefined(cached, tailStart, TAIL_BYTES);
    if (tail && trailingArchive(tail)) result.anomalies.push("trailing-archive");
  }

  if (isMedia(result.detectedMimeType)) {
    const probe = await probeMedia(cached, { deadline, maxFedBytes: MAX_FED_FACTOR * maxBytes });
    if (probe.truncated) result.anomalies.push("truncated");
    if (probe.media) {
      result.media = probe.media;
      if (probe.media.container === "aac" && probe.media.durationSeconds === null) {
        Object.assign(result.media, adtsEstimate(head, source.size));
      }
      const seconds = probe.media.durationSeconds;
      if (seconds !== null && seconds > 0 && (source.size * 8) / seconds < MIN_PLAUSIBLE_BIT_RATE) {
        result.anomalies.push("implausible-duration");
      }
    } else {
      result.mediaProblem = probe.stopped ?? "undecodable";
    }
  }
  return result;
}

/** The bytes, or `undefined` when the inspection's byte limit refuses the read. */
async function readOrUndefined(source: ByteSource, offset: number, length: number): Promise<Uint8Array | undefined> {
  try {
    return await source.read(offset, length);
  } catch (error) {
    if (isByteLimit(error)) return undefined;
    throw error;
  }
}

/** Audio and video types, by their MIME names and those `file-type` gives containers of them. */
function isMedia(type: string): boolean {
  return (
    type.startsWith("video/") || type.startsWith("audio/") || type === "application/ogg" || type === "application/mp4"
  );
}

/** Types whose format is a ZIP archive, which end in one by design. */
function isZipBased(type: string): boolean {
  return (
    type === "application/zip" ||
    type === "application/java-archive" ||
    type === "application/epub+zip" ||
    type === "application/vnd.android.package-archive" ||
    type.startsWith("application/vnd.openxmlformats-officedocument.") ||
    type.startsWith("application/vnd.oasis.opendocument.")
  );
}

/** Whether `head` is text: valid UTF-8 (a character cut at its end aside) without NUL or other C0 control bytes. */
function isUtf8Text(head: Uint8Array): boolean {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0e-\x1a\x1c-\x1f]/.test(Buffer.from(head).toString("latin1"))) return false;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(head.subarray(0, trimCutCharacter(head)));
    return true;
  } catch {
    return false;
  }
}

/** The length of `bytes` without a UTF-8 sequence cut off at its end. */
function trimCutCharacter(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back for the lead
    const expected = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return expected > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}
