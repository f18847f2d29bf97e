/**
 * What signature libraries (`file-type`) do not detect because it has no magic number: text a browser would render
 * or run. HTML, SVG, XML and scripts served as what a client declared can run in whoever opens them, so they are found
 * here, from the first bytes, the way browsers sniff (WHATWG MIME Sniffing: a byte order mark and white space skipped,
 * tags matched without regard to case).
 */

/** HTML's patterns in the MIME Sniffing standard: each a tag name followed by a space or `>`. */
const HTML_TAGS = [
  "!doctype html",
  "html",
  "head",
  "script",
  "iframe",
  "h1",
  "div",
  "font",
  "table",
  "a",
  "style",
  "title",
  "b",
  "body",
  "br",
  "p",
  "!--",
];
/** How far into the object embedded markup is looked for (`embeddedMarkup`). */
export const MARKUP_SCAN_BYTES = 64 * 1024;

/**
 * The type of text-like content at the start of `head` (the object's first bytes): `text/html`, `image/svg+xml`,
 * `application/xhtml+xml`, `application/xml`, `text/javascript` or `text/x-shellscript`; `undefined` when it is none
 * of these.
 */
export function sniffMarkup(head: Uint8Array): string | undefined {
  const text = leadingText(head);
  if (text.startsWith("#!")) return "text/x-shellscript";
  if (text.startsWith("<?xml")) {
    // The root element decides: an SVG or XHTML document is as dangerous as its bare form.
    if (/<svg[\s>/]/.test(text)) return "image/svg+xml";
    if (/<html[\s>/]/.test(text)) return "application/xhtml+xml";
    return "application/xml";
  }
  if (/^<svg[\s>/]/.test(text)) return "image/svg+xml";
  for (const tag of HTML_TAGS) {
    if (text.startsWith(`<${tag}`)) {
      const next = text.charAt(tag.length + 1);
      if (next === ">" || next === "/" || /\s/.test(next) || (tag === "!--" && next !== "")) return "text/html";
    }
  }
  // A script file served inline runs nowhere by itself, but it is what an attacker stores to load from a page.
  if (
    /^(?:(?:"use strict"|'use strict');?\s*)?(?:function\s|var\s|let\s|const\s|import\s|export\s|document\.|window\.)/.test(
      text,
    )
  ) {
    return "text/javascript";
  }
  return undefined;
}

/**
 * Whether markup that runs in a browser (`<script`, `<html`, `<svg`, `<iframe`, an event handler attribute) appears
 * anywhere in `bytes`: in a file that is otherwise media, the mark of a polyglot made to be opened as a page.
 */
export function embeddedMarkup(bytes: Uint8Array): boolean {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1").toLowerCase();
  return /<(?:script|html|svg|iframe|object|embed)[\s>/]|<!doctype html|javascript:|\son(?:load|error)\s*=/.test(text);
}

/**
 * Whether a ZIP archive's end record (`PK\x05\x06`) is in `tail` (the object's last bytes): a file of another type
 * with an archive appended (GIFAR and its kind), which Java, PHP's `phar://` or an unzip tool open as the archive.
 */
export function trailingArchive(tail: Uint8Array): boolean {
  return Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength).includes(ZIP_END_OF_CENTRAL_DIRECTORY);
}

const ZIP_END_OF_CENTRAL_DIRECTORY = Buffer.from([0x50, 0x4b, 0x05, 0x06]);

/** The start of `head` as text, lowercased, after a UTF-8/UTF-16 byte order mark and white space. */
function leadingText(head: Uint8Array): string {
  let bytes = Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, 4096));
  let encoding: BufferEncoding = "latin1";
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    bytes = bytes.subarray(3);
    encoding = "utf8";
  } else if (bytes[0] === 0xff && bytes[1] === 0xfe) {
    bytes = bytes.subarray(2);
    encoding = "utf16le";
  } else if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    // UTF-16 big-endian: swap to little-endian to decode it.
    const swapped = Buffer.from(bytes.subarray(2, 2 + ((bytes.length - 2) & ~1)));
    bytes = swapped.swap16();
    encoding = "utf16le";
  }
  return bytes
    .toString(encoding)
    .replace(/^[\s\0]+/, "")
    .toLowerCase();
}
