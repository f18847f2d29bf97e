import { mediaFactsOf, type Verification } from "@upload-gateway/client";
import { formatBytes } from "@upload-gateway/react";

export { formatBytes };

export function formatSpeed(bytesPerSecond: number): string {
  return bytesPerSecond > 0 ? `${formatBytes(Math.round(bytesPerSecond))}/s` : "–";
}

/** Whole percent, never 100 before the last byte: a bar at 100% while the upload is still finishing would mislead. */
export function percentOf(done: number, total: number): number {
  if (total <= 0) return 0;
  if (done >= total) return 100;
  return Math.min(99, Math.floor((done / total) * 100));
}

/**
 * Bytes the store has acknowledged: the parts shown `done` (stored, before a resume or by this page), each at its
 * planned size. Not the bytes handed to the network: those include parts whose reply has not come, which may fail.
 */
export function acknowledgedBytes(parts: readonly string[], partSize: number, total: number): number {
  let bytes = 0;
  parts.forEach((state, index) => {
    if (state === "done") bytes += Math.max(0, Math.min(partSize, total - index * partSize));
  });
  return bytes;
}

/** Time left at the current speed: `"about 5 s left"`, `"about 3 min left"`; empty when it cannot be told. */
export function formatEta(remainingBytes: number, bytesPerSecond: number): string {
  if (remainingBytes <= 0 || bytesPerSecond <= 0) return "";
  const seconds = Math.ceil(remainingBytes / bytesPerSecond);
  if (seconds < 60) return `about ${seconds} s left`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} min left`;
  const hours = Math.floor(minutes / 60);
  return `about ${hours} h ${minutes % 60} min left`;
}

/** `"3 min ago"`, or the date for older times. */
export function formatWhen(iso: string, now: number = Date.now()): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return "";
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(at).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
}

/**
 * What the gateway's content check found, as labelled facts for a finished upload: its detected type and, for audio
 * and video, duration, resolution and codecs (each when the file has it). None before the check passed.
 */
export function verificationFacts(verification: Verification | undefined): [label: string, value: string][] {
  if (verification?.state !== "passed") return [];
  const facts: [string, string][] = [];
  if (verification.detectedMimeType) facts.push(["Type", verification.detectedMimeType]);
  if (!verification.media) return facts;
  const { duration, resolution, codecs } = mediaFactsOf(verification.media);
  if (duration) facts.push(["Duration", duration]);
  if (resolution) facts.push(["Resolution", resolution]);
  if (codecs) facts.push([codecs.includes("/") ? "Codecs" : "Codec", codecs]);
  return facts;
}

/** A refused file's reason as the page says it: "Rejected by the gateway's content check: declared video/mp4, …." */
export function rejectionSentence(reason: string): string {
  const trimmed = reason.trim().replace(/[.!?]$/, "");
  return `Rejected by the gateway's content check: ${trimmed}.`;
}
