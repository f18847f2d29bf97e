import { VERIFICATION_FAILURE_CODES, type MediaFacts, type Verification } from "@upload-gateway/contract";

/**
 * One line for people about what the gateway's content check found, as the CLI prints it after "verified:":
 * `video/mp4, 8:34, 1920×1080, h264/aac` (type, duration, resolution, codecs: whichever the file has); a refused file's
 * reason in plain words ("declared video/mp4, found an HTML page (text/html)"); "content check pending" before it ran.
 */
export function describeVerification(verification: Verification): string {
  if (verification.state === "failed") {
    return verification.reason ?? (verification.code ? VERIFICATION_FAILURE_CODES[verification.code] : "refused");
  }
  if (verification.state === "pending") return "content check pending";
  const type = verification.detectedMimeType ?? "unknown type";
  const { duration, resolution, codecs } = verification.media ? mediaFactsOf(verification.media) : {};
  return [type, duration, resolution, codecs].filter((fact) => fact !== undefined).join(", ");
}

/** A media file's facts as people read them, each when the file has it: `8:34`, `1920×1080`, `h264/aac`. */
export interface MediaFactsText {
  duration?: string;
  resolution?: string;
  /** The video codec and the audio codec, `/` between them: `h264/aac`; one alone for a silent video or audio. */
  codecs?: string;
}

/** The duration, resolution and codecs of `media` as people read them (see `MediaFactsText`). */
export function mediaFactsOf(media: MediaFacts): MediaFactsText {
  // Checked as numbers and strings, not only against null: a field a gateway left out is no fact either.
  const { durationSeconds, width, height, videoCodec, audioCodec } = media;
  const facts: MediaFactsText = {};
  if (typeof durationSeconds === "number") facts.duration = formatMediaDuration(durationSeconds);
  if (typeof width === "number" && typeof height === "number") facts.resolution = `${width}×${height}`;
  const codecs = [videoCodec, audioCodec].filter((c): c is string => typeof c === "string" && c !== "");
  if (codecs.length > 0) facts.codecs = codecs.join("/");
  return facts;
}

/** A duration as a player shows it: `0:07`, `8:34`, `1:02:03` (whole seconds, rounded). */
export function formatMediaDuration(seconds: number): string {
  const s = Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds) : 0;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}
