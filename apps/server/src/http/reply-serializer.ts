import { randomUUID } from "node:crypto";

/** Below this many rows a table goes through `JSON.stringify` like the rest: the gain would not pay for the checks. */
export const TABLE_MIN_ROWS = 512;

/**
 * Stands for the table in the text `JSON.stringify` makes of the rest of the envelope. Random per process and
 * starting with a control character, so no string a client sent can produce it by chance, and one that does anyway
 * (found twice) sends the reply down the plain path.
 */
export const PLACEHOLDER_VALUE = `\u0000table:${randomUUID()}`;
const PLACEHOLDER = JSON.stringify(PLACEHOLDER_VALUE);

/** A string JSON writes as it is, between quotes: printable ASCII without `"` and `\`. */
const VERBATIM = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * The reply serializer of the standalone server (Fastify's `setReplySerializer`): the text `JSON.stringify` makes of
 * an envelope, byte for byte, except that a large table in its `result`, an array of at least `TABLE_MIN_ROWS` flat
 * records (a start's or resume's part URLs: 10,000 rows, 5 MB), is written straight into the reply's bytes. On a
 * 10,000-part start, `JSON.stringify` and then encoding its 5 MB string to UTF-8 cost 30–50 ms of the event loop;
 * writing the rows' ASCII into one buffer costs a fraction of it. Any value the fast path cannot vouch for (a
 * string to escape or beyond ASCII, a nested value, a `toJSON`, rows of differing keys) takes the plain path.
 */
export function serializeReply(payload: unknown): string | Buffer {
  return tableReply(payload) ?? JSON.stringify(payload);
}

function tableReply(payload: unknown): Buffer | undefined {
  if (!isPlainObject(payload) || !isPlainObject(payload.result)) return undefined;
  const result = payload.result;
  const name = Object.keys(result).find((key) => {
    const value = result[key];
    return Array.isArray(value) && value.length >= TABLE_MIN_ROWS;
  });
  if (name === undefined) return undefined;
  const table = tableBytes(result[name] as unknown[]);
  if (table === undefined) return undefined;
  // Spreads keep the keys' order, and the table's key keeps its place.
  const text = JSON.stringify({ ...payload, result: { ...result, [name]: PLACEHOLDER_VALUE } });
  const at = text.indexOf(PLACEHOLDER);
  if (at < 0 || text.lastIndexOf(PLACEHOLDER) !== at) return undefined;
  const head = text.slice(0, at);
  const tail = text.slice(at + PLACEHOLDER.length);
  const headBytes = Buffer.byteLength(head);
  const bytes = Buffer.allocUnsafe(headBytes + table.length + Buffer.byteLength(tail));
  bytes.write(head, 0);
  table.copy(bytes, headBytes);
  bytes.write(tail, headBytes + table.length);
  return bytes;
}

/** The table's JSON text as bytes, when every row is a plain object of the first row's keys, in its order, holding
 * finite numbers and verbatim strings only; otherwise undefined. */
function tableBytes(rows: unknown[]): Buffer | undefined {
  const first = rows[0];
  if (!isPlainObject(first)) return undefined;
  const keys = Object.keys(first);
  if (keys.length === 0 || !keys.every((key) => VERBATIM.test(key))) return undefined;
  const fields = keys.map((key, i) => `${i === 0 ? "{" : ","}"${key}":`);
  // First pass: check every value and count the bytes; the second writes them.
  let size = 2 + (rows.length - 1); // the brackets and the commas between rows
  for (const row of rows) {
    if (!isPlainObject(row)) return undefined;
    const rowKeys = Object.keys(row);
    if (rowKeys.length !== keys.length) return undefined;
    for (let i = 0; i < keys.length; i++) {
      if (rowKeys[i] !== keys[i]) return undefined;
      const value = row[keys[i]!];
      if (typeof value === "number") {
        if (!Number.isFinite(value)) return undefined;
        size += fields[i]!.length + String(value).length;
      } else if (typeof value === "string") {
        if (!VERBATIM.test(value)) return undefined;
        size += fields[i]!.length + value.length + 2;
      } else {
        return undefined;
      }
    }
    size += 1; // the row's closing brace
  }
  const bytes = Buffer.allocUnsafe(size);
  let at = bytes.write("[", 0, "latin1");
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as Record<string, unknown>;
    if (r > 0) at += bytes.write(",", at, "latin1");
    for (let i = 0; i < keys.length; i++) {
      at += bytes.write(fields[i]!, at, "latin1");
      const value = row[keys[i]!];
      if (typeof value === "string") {
        at += bytes.write('"', at, "latin1");
        at += bytes.write(value, at, "latin1");
        at += bytes.write('"', at, "latin1");
      } else {
        // As JSON prints a finite number: both use Number::toString (and -0 prints as 0 in both).
        at += bytes.write(String(value), at, "latin1");
      }
    }
    at += bytes.write("}", at, "latin1");
  }
  at += bytes.write("]", at, "latin1");
  return at === size ? bytes : undefined;
}

/** An object JSON writes as its own keys: no prototype but Object's (or none), so no `toJSON` and no class. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return (proto === Object.prototype || proto === null) && !("toJSON" in value);
}
