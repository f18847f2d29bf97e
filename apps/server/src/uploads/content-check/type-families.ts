import { mimeMatches } from "../check-limits";

/**
 * Which detected types a declared type may stand for, and plain words for types in a rejection's reason. The detected
 * type is `file-type`'s name for a container (or the inspector's for markup and text), which is often not the name a
 * client declares for the same bytes: `video/quicktime` for a `.mov` uploaded as `video/mp4`, `audio/x-m4a` for an
 * M4A uploaded as `audio/mp4`. Types of one family are the same container to a player, so they do not disagree.
 */

/** Containers several MIME names stand for: any of a family's names declared, any of them detected, agree. */
const FAMILIES: readonly (readonly string[])[] = [
  // ISO base media (MP4, MOV, M4A, M4V, 3GP): one box format, the same parsers.
  [
    "video/mp4",
    "video/quicktime",
    "video/x-m4v",
    "video/3gpp",
    "video/3gpp2",
    "audio/mp4",
    "audio/x-m4a",
    "audio/m4a",
    "audio/3gpp",
    "application/mp4",
  ],
  ["video/webm", "audio/webm", "video/x-matroska", "audio/x-matroska", "video/matroska", "audio/matroska"],
  ["audio/ogg", "video/ogg", "application/ogg", "audio/opus", "audio/vorbis"],
  ["audio/mpeg", "audio/mp3", "audio/x-mpeg", "audio/mpeg3", "audio/x-mp3"],
  ["audio/aac", "audio/x-aac", "audio/aacp"],
  ["audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"],
  ["audio/flac", "audio/x-flac"],
  ["video/x-msvideo", "video/avi", "video/vnd.avi", "video/msvideo"],
  ["image/jpeg", "image/jpg", "image/pjpeg"],
  ["application/xml", "text/xml"],
  ["text/javascript", "application/javascript", "application/x-javascript", "application/ecmascript"],
  ["application/zip", "application/x-zip-compressed", "application/x-zip"],
  ["application/gzip", "application/x-gzip"],
];

/** Types a browser renders or runs: never accepted as anything else (see `isActiveType`). */
const ACTIVE = new Set([
  "text/html",
  "image/svg+xml",
  "application/xhtml+xml",
  "application/xml",
  "text/xml",
  "text/javascript",
  "application/javascript",
  "application/x-javascript",
  "application/ecmascript",
  "text/x-shellscript",
]);

/** Kinds of declared type that always have a signature: detecting none means the bytes are not what was declared. */
const SIGNED_KINDS = ["video/", "audio/", "image/", "font/"];

/** The MIME essence: lowercase, without parameters (`text/plain; charset=utf-8` → `text/plain`). */
export function essence(mimeType: string): string {
  return mimeType.split(";")[0]!.trim().toLowerCase();
}

/** Whether a type is markup or script a browser renders or runs (HTML, SVG, XML, JavaScript, shell scripts). */
export function isActiveType(mimeType: string): boolean {
  const type = essence(mimeType);
  return ACTIVE.has(type) || type.endsWith("+xml");
}

/**
 * Whether a download of this type must not be served as it is: markup, script and every text type (a browser may
 * render or sniff them into a page of the origin serving them). Those are served as `application/octet-stream`.
 */
export function unsafeInline(mimeType: string): boolean {
  const type = essence(mimeType);
  return isActiveType(type) || type.startsWith("text/") || type.includes("javascript") || type.includes("ecmascript");
}

function familyOf(type: string): readonly string[] | undefined {
  return FAMILIES.find((family) => family.includes(type));
}

/**
 * Whether an allowlist entry (`video/mp4`, `video/*`) accepts a detected type: itself, or another name of its
 * container family of the same kind (`video/quicktime` for `video/mp4`, `audio/x-m4a` for `audio/mp4`; not
 * `audio/x-m4a` for `video/mp4`).
 */
export function allowedByName(allowed: string, detected: string): boolean {
  const type = essence(detected);
  if (mimeMatches(allowed, type)) return true;
  const kind = type.split("/")[0];
  return (familyOf(type) ?? []).some((name) => name.split("/")[0] === kind && mimeMatches(allowed, name));
}

/**
 * Whether content detected as `detected` may be what a client declared as `declared`:
 * - the same type, or two names of one container family;
 * - `application/octet-stream` declared: the client did not know (the allowlists still judge the detected type);
 * - nothing detected (`application/octet-stream`: no signature) for a declared type of a kind without signatures
 *   (`application/x-custom`), but not for audio, video, images and fonts, which all have one;
 * - plain text detected for a declared text format (`text/csv`, `application/json`, `application/x-ndjson`, ...), but
 *   never for a type a browser renders (HTML, SVG, XML, JavaScript): those are found by their markup when they are;
 * - a ZIP detected for a declared ZIP-based format the signature cannot name, and the other way round.
 * Markup or script detected (`text/html`, `image/svg+xml`, ...) agrees only with itself (or its family).
 */
export function typesAgree(declared: string, detected: string): boolean {
  const d = essence(declared);
  const found = essence(detected);
  if (d === found || d === "application/octet-stream") return true;
  const family = familyOf(d);
  if (family?.includes(found)) return true;
  if (ACTIVE.has(found) || found.endsWith("+xml")) return false;
  if (found === "application/octet-stream") return !SIGNED_KINDS.some((kind) => d.startsWith(kind));
  if (found === "text/plain") return isTextFormat(d);
  if (found === "application/zip" && isZipBased(d)) return true;
  if (d === "application/zip" && isZipBased(found)) return true;
  return false;
}

function isTextFormat(type: string): boolean {
  if (ACTIVE.has(type) || type.endsWith("+xml")) return false;
  return (
    type.startsWith("text/") ||
    type.endsWith("+json") ||
    ["application/json", "application/x-ndjson", "application/x-yaml", "application/yaml", "application/toml"].includes(
      type,
    ) ||
    type === "application/x-subrip" ||
    type === "application/csv"
  );
}

function isZipBased(type: string): boolean {
  return (
    type === "application/java-archive" ||
    type === "application/epub+zip" ||
    type === "application/vnd.android.package-archive" ||
    type.startsWith("application/vnd.openxmlformats-officedocument.") ||
    type.startsWith("application/vnd.oasis.opendocument.")
  );
}

/** Whether a type names audio or video (or a container of them: `application/ogg`, `application/mp4`). */
export function isMediaType(mimeType: string): boolean {
  const type = essence(mimeType);
  return (
    type.startsWith("video/") || type.startsWith("audio/") || type === "application/ogg" || type === "application/mp4"
  );
}

/** Plain words for what was found, for a reason such as "declared video/mp4, found an HTML page (text/html)". */
export function describeType(mimeType: string): string {
  const type = essence(mimeType);
  const named: Record<string, string> = {
    "text/html": "an HTML page",
    "application/xhtml+xml": "an XHTML page",
    "image/svg+xml": "an SVG image",
    "application/xml": "an XML document",
    "text/xml": "an XML document",
    "text/javascript": "a script",
    "text/x-shellscript": "a shell script",
    "text/plain": "plain text",
    "application/x-elf": "a program (ELF)",
    "application/x-msdownload": "a Windows program",
    "application/x-mach-binary": "a macOS program",
    "application/zip": "a ZIP archive",
    "application/pdf": "a PDF document",
    "application/x-empty": "an empty file",
    "application/octet-stream": "data of no known type",
  };
  const words = named[type];
  if (words) return `${words} (${type})`;
  if (type.startsWith("video/")) return `a video (${type})`;
  if (type.startsWith("audio/")) return `audio (${type})`;
  if (type.startsWith("image/")) return `an image (${type})`;
  return type;
}
