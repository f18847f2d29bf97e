import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { errorEnvelopeSchema, ERROR_CODES, MiB } from "@upload-gateway/contract";
import fc from "fast-check";

/**
 * Generators of hostile and valid requests for the property-based fuzz test, and the check every reply must pass.
 * Requests are plain data, so fast-check can print and shrink a failing one.
 */

export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  /** The body as sent, byte for byte (JSON is built as text, so duplicate and `__proto__` keys survive). */
  payload?: string;
}

/** What the generators need to know about the gateway under test. */
export interface FuzzTarget {
  projectId: string;
  foreignProjectId: string;
  apiKey: string;
  foreignKey: string;
  /** Request keys of uploads in each state. */
  requestKeys: string[];
  /** Paths (with their signed queries) of the embedded store's part and object URLs; empty on S3. */
  storageUrls: string[];
}

const HTTP_METHODS = [
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "TRACE",
  "PROPFIND",
  "SEARCH",
  "MKCOL",
];

/** Strings that have broken servers: lone surrogates, NUL and other controls, bidi overrides, emoji, huge ones. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "",
      " ",
      "\ud800",
      "\udfff",
      "a\ud83db",
      "\u0000",
      "a\u0000b.mp4",
      "\u001b[31m",
      "\u0085",
      "\u202emp4.exe",
      "\ufeff",
      "🎬🎞️👩‍👩‍👧",
      "e\u0301",
      "..",
      "../../etc/passwd",
      "a/b",
      "%00",
      "%ED%A0%80",
      "__proto__",
      "constructor",
      "prototype",
      "null",
      "1e999",
      "video/mp4",
      "x".repeat(256),
      "y".repeat(100_000),
    ),
  },
);

export const nastyNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(
    0,
    -0,
    -1,
    1.5,
    2 ** 31,
    2 ** 53,
    2 ** 53 + 2,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    1e21,
    5 * 1024 ** 4 + 1,
    10_001,
    10_000,
  ),
);

const fieldName = fc.constantFrom(
  "partsNumber",
  "fileName",
  "contentLength",
  "mimeType",
  "enableDuplicateCheck",
  "fileHash",
  "presignedUrlExpiryTimeHours",
  "requestKey",
  "parts",
  "partNumber",
  "eTag",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
);

/** Any JSON value, weighted towards the hostile; objects may carry `__proto__` and `constructor` keys. */
export const nastyJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    nastyString,
    nastyNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fieldName, fc.string({ maxLength: 8 })), tie("value"), { maxKeys: 4 }),
  ),
})).value;

/** JSON text of an object from key/value entries: keys may repeat, and `__proto__` is an ordinary key. */
export function objectText(entries: [string, unknown][]): string {
  const members = entries.flatMap(([key, value]) => {
    const text = JSON.stringify(value);
    return text === undefined ? [] : [`${JSON.stringify(key)}:${text}`];
  });
  return `{${members.join(",")}}`;
}

/** Bodies that are not JSON, or JSON a parser may choke on. */
const rawBodies: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.integer({ min: 1, max: 50_000 }).map((depth) => "[".repeat(depth) + "]".repeat(depth)),
  fc.integer({ min: 1, max: 20_000 }).map((depth) => '{"a":'.repeat(depth) + "1" + "}".repeat(depth)),
  fc.constantFrom(
    "",
    "null",
    "[]",
    '"string"',
    "1" + "0".repeat(400),
    '{"partsNumber":1e400}',
    '{"requestKey":"a","requestKey":{"$gt":""}}',
    '{"__proto__":{"polluted":true},"requestKey":"x"}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    '{"a":1,',
    "{'a':1}",
    '{"a":"\\ud800"}',
    '{"a":"\\u0000"}',
    "\ufeff{}",
  ),
);

/** A valid start body for a small plan, as an object (mutated by the generators below). */
export const validStartBody = fc
  .record({
    partsNumber: fc.integer({ min: 1, max: 12 }),
    extra: fc.integer({ min: 1, max: 5 * MiB }),
    fileName: fc
      .string({ unit: "grapheme", minLength: 1, maxLength: 80 })
      // eslint-disable-next-line no-control-regex
      .filter((name) => !/[\u0000-\u001f\u007f-\u009f]/.test(name) && name.length <= 255),
    mimeType: fc.constantFrom("video/mp4", "video/quicktime", "application/octet-stream", "image/png", "audio/x-wav"),
    asNumber: fc.boolean(),
    hours: fc.option(fc.integer({ min: 1, max: 168 })),
  })
  .map(({ partsNumber, extra, fileName, mimeType, asNumber, hours }) => {
    // (partsNumber − 1) × 5 MiB < contentLength ≤ partsNumber × 5 GiB: the smallest valid sizes plus `extra`.
    const contentLength = (partsNumber - 1) * 5 * MiB + extra;
    return {
      partsNumber,
      fileName,
      contentLength: asNumber ? contentLength : String(contentLength),
      mimeType,
      ...(hours === null ? {} : { presignedUrlExpiryTimeHours: hours }),
    };
  });

/** A request segment: what it says, percent-encoded as a client would (lone surrogates as their WTF-8 bytes). */
export function encodeSegment(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (/^[A-Za-z0-9_.~-]$/.test(char)) out += char;
    else if (code >= 0xd800 && code <= 0xdfff)
      out += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)].map(hex).join("");
    else out += encodeURIComponent(char);
  }
  return out;
}
const hex = (byte: number) => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;

/** A path segment: mostly encoded hostile text, sometimes broken escapes or raw characters. */
const segment: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: nastyString.map(encodeSegment) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "%",
      "%Z9",
      "%E0%A4%A",
      "%C0%AF",
      "%2e%2e",
      "%2F",
      "%00",
      "..",
      ".",
      "",
      "a;b",
      "a%20b",
      "*",
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme-ascii", maxLength: 12 }).map((s) => s.replace(/[#?\s\\]/g, "")) },
);

function routeArbitrary(target: FuzzTarget): fc.Arbitrary<{ method: string; path: string; json: boolean }> {
  const project = fc.oneof(
    { weight: 8, arbitrary: fc.constant(target.projectId) },
    { weight: 1, arbitrary: fc.constant(target.foreignProjectId) },
    { weight: 1, arbitrary: fc.constant("no-such-project") },
    { weight: 2, arbitrary: segment },
  );
  const requestKey = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...target.requestKeys) },
    { weight: 1, arbitrary: fc.stringMatching(/^[0-9]{13}[A-Za-z0-9_-]{22}$/) },
    { weight: 3, arbitrary: segment },
  );
  const query = fc.oneof(
    fc.constant(""),
    fc
      .array(
        fc.tuple(
          fc.constantFrom("limit", "cursor", "x", "__proto__", "limit[]"),
          fc.oneof(segment, nastyNumber.map(String)),
        ),
        {
          maxLength: 3,
        },
      )
      .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join("&")}` : "")),
  );
  const api = (p: string) => `/api/projects/${p}/uploads`;
  const routes: fc.Arbitrary<{ method: string; path: string; json: boolean }>[] = [
    project.map((p) => ({ method: "POST", path: `${api(p)}/multipart`, json: true })),
    project.map((p) => ({ method: "PUT", path: `${api(p)}/multipart-complete`, json: true })),
    project.map((p) => ({ method: "PUT", path: `${api(p)}/multipart-abort`, json: true })),
    project.map((p) => ({ method: "POST", path: `${api(p)}/multipart-resume`, json: true })),
    fc.tuple(project, requestKey).map(([p, k]) => ({ method: "POST", path: `${api(p)}/success/${k}`, json: false })),
    fc.tuple(project, requestKey).map(([p, k]) => ({ method: "GET", path: `${api(p)}/${k}`, json: false })),
    fc.tuple(project, query).map(([p, q]) => ({ method: "GET", path: `${api(p)}${q}`, json: false })),
    fc
      .constantFrom("/health/live", "/health/ready", "/api/dev-session", "/docs", "/docs/assets/docs-init.js")
      .map((path) => ({
        method: "GET",
        path,
        json: false,
      })),
    segment.map((file) => ({ method: "GET", path: `/docs/assets/${file}`, json: false })),
    fc
      .tuple(
        fc.constantFrom("", "api/", "storage/", "health/", "docs/"),
        fc.array(segment, { minLength: 1, maxLength: 4 }),
      )
      .map(([prefix, parts]) => ({
        method: "GET",
        path: `/${prefix}${parts.join("/")}`,
        json: false,
      })),
  ];
  if (target.storageUrls.length > 0) {
    const storageUrl = fc.constantFrom(...target.storageUrls);
    routes.push(
      storageUrl.map((url) => ({ method: url.includes("/parts/") ? "PUT" : "GET", path: url, json: false })),
      fc
        .tuple(storageUrl, segment, fc.constantFrom("signature", "expires", "key", "uploadId"))
        .map(([url, value, name]) => ({
          method: url.includes("/parts/") ? "PUT" : "GET",
          // A tampered query: one parameter replaced.
          path: url.replace(new RegExp(`([?&]${name}=)[^&]*`), `$1${value}`),
          json: false,
        })),
      fc.tuple(segment, segment, fc.integer({ min: -1, max: 20_000 })).map(([upload, key, part]) => ({
        method: "PUT",
        path: `/storage/uploads/${upload}/parts/${part}?key=${key}&expires=${Date.now() + 60_000}&signature=${upload}`,
        json: false,
      })),
      segment.map((key) => ({ method: "OPTIONS", path: `/storage/objects/${key}`, json: false })),
    );
  }
  return fc.oneof(...routes);
}

const contentType = fc.constantFrom(
  "application/json",
  "application/json; charset=utf-8",
  "APPLICATION/JSON",
  "application/json; charset=latin1",
  "application/vnd.api+json",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/octet-stream",
  "foo",
  ";;",
  "application/json, text/plain",
);

function headersArbitrary(target: FuzzTarget): fc.Arbitrary<Record<string, string>> {
  const printable = fc.string({ unit: "grapheme-ascii", maxLength: 40 });
  const authorization = fc.oneof(
    { weight: 8, arbitrary: fc.constant(`Bearer ${target.apiKey}`) },
    { weight: 1, arbitrary: fc.constant(`Bearer ${target.foreignKey}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "Bearer",
        "Bearer ",
        `bearer ${target.apiKey}`,
        `Basic ${target.apiKey}`,
        `Bearer  ${target.apiKey} `,
      ),
    },
    { weight: 1, arbitrary: printable.map((s) => `Bearer ${s}`) },
  );
  return fc
    .record(
      {
        authorization,
        "content-type": contentType,
        "accept-encoding": fc.constantFrom("gzip", "br", "deflate", "identity", "*", "gzip;q=0, br;q=0", "x-unknown"),
        host: fc.constantFrom("127.0.0.1", "localhost:3000", "[::1]:1", "evil.example", "127.0.0.1.evil.example"),
        "x-forwarded-for": printable,
        "x-forwarded-host": printable,
        range: fc.constantFrom(
          "bytes=0-0",
          "bytes=-1",
          "bytes=5-",
          "bytes=999999-",
          "bytes=2-1",
          "bytes=a-b",
          "lines=1-2",
        ),
        "if-none-match": printable,
        "idempotency-key": printable,
        accept: fc.constantFrom("application/json", "text/html", "*/*", "application/xml"),
      },
      { requiredKeys: [] },
    )
    .map((headers) => Object.fromEntries(Object.entries(headers)) as Record<string, string>);
}

/** A body for a JSON route: valid, a valid one with one field made hostile, hostile JSON, or not JSON at all. */
const jsonRouteBody: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 2, arbitrary: validStartBody.map((body) => JSON.stringify(body)) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(validStartBody, fc.array(fc.tuple(fieldName, nastyJson), { minLength: 1, maxLength: 3 }), fc.boolean())
      .map(([body, changes, drop]) => {
        const entries = Object.entries(body).filter(([key]) => !(drop && key === changes[0]![0]));
        return objectText([...entries, ...(drop ? [] : changes)]);
      }),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        nastyString,
        fc.array(fc.record({ partNumber: fc.oneof(fc.integer({ min: 1, max: 3 }), nastyNumber), eTag: nastyString }), {
          maxLength: 3,
        }),
      )
      .map(([requestKey, parts]) =>
        objectText([
          ["requestKey", requestKey],
          ["parts", parts],
        ]),
      ),
  },
  { weight: 2, arbitrary: nastyJson.map((value) => JSON.stringify(value)) },
  { weight: 2, arbitrary: rawBodies },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

/** Any request to any route: mostly the route's own method and a JSON body where one belongs. */
export function fuzzRequest(target: FuzzTarget): fc.Arbitrary<FuzzRequest> {
  return fc
    .tuple(
      routeArbitrary(target),
      fc.option(fc.constantFrom(...HTTP_METHODS), { freq: 5 }),
      headersArbitrary(target),
      jsonRouteBody,
      fc.option(fc.uint8Array({ maxLength: 64 }), { freq: 3 }),
    )
    .map(([route, otherMethod, headers, jsonBody, bytes]) => {
      const method = otherMethod ?? route.method;
      const payload =
        route.json || method === "PUT" || method === "POST"
          ? bytes
            ? Buffer.from(bytes).toString("latin1")
            : jsonBody
          : undefined;
      return { method, url: route.path, headers, ...(payload === undefined ? {} : { payload }) };
    });
}

/** The reply as the check needs it. */
export interface FuzzReply {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  rawPayload: Buffer;
}

function normalizedPath(url: string): string {
  try {
    return new URL(url, "http://gateway.test").pathname;
  } catch {
    return url.split("?")[0]!;
  }
}

/** Paths whose every reply is the envelope, success or not (the API, probes, the dev session). */
const ENVELOPE_PATHS = /^\/(api\/(?!openapi\.json)|health\/)/;

/**
 * The property every reply must have: never 5xx, and the envelope wherever the protocol allows a body on an error
 * or an API reply, with `statusCode` equal to the HTTP status and codes from the closed set. Throws a readable error.
 */
export function checkReply(request: FuzzRequest, reply: FuzzReply): void {
  // The path as the server routes it: inject() resolves dot segments (`/api/..` asks for `/`, the demo page).
  const path = normalizedPath(request.url);
  const problem = (why: string) =>
    new Error(
      `${why}\n  request: ${request.method} ${request.url.slice(0, 300)}\n  reply: ${reply.statusCode} ${bodyText(reply).slice(0, 500)}`,
    );
  // The demo page's placeholder when apps/web has not been built: a page for people, not an API reply.
  const demoNotBuilt =
    reply.statusCode === 503 &&
    String(reply.headers["content-type"]).startsWith("text/html") &&
    (request.method === "HEAD" || bodyText(reply).includes("demo page has not been built"));
  if (reply.statusCode >= 500 && !demoNotBuilt) throw problem("a 5xx reply");
  const bodyless = request.method === "HEAD" || reply.statusCode === 204 || reply.statusCode === 304;
  if (bodyless || demoNotBuilt) return;
  if (reply.statusCode < 400 && !ENVELOPE_PATHS.test(path)) return;
  let body: any;
  try {
    body = JSON.parse(bodyText(reply));
  } catch {
    throw problem("a reply that is not JSON where the envelope belongs");
  }
  if (body?.statusCode !== reply.statusCode) throw problem("statusCode differs from the HTTP status");
  if (body.success === true) {
    if (reply.statusCode >= 300) throw problem("success: true with an error status");
    if (!Array.isArray(body.errors) || body.errors.length !== 0 || !("result" in body))
      throw problem("a malformed success envelope");
    return;
  }
  const parsed = errorEnvelopeSchema.safeParse(body);
  if (!parsed.success) throw problem(`not the error envelope: ${parsed.error.message}`);
  const first = parsed.data.errorDetails[0]!;
  if (ERROR_CODES[first.code].status !== reply.statusCode)
    throw problem(`the first code ${first.code} does not have the reply's status`);
}

function bodyText(reply: FuzzReply): string {
  const encoding = String(reply.headers["content-encoding"] ?? "");
  const bytes = reply.rawPayload;
  const decoded =
    encoding === "br"
      ? brotliDecompressSync(bytes)
      : encoding === "gzip"
        ? gunzipSync(bytes)
        : encoding === "deflate"
          ? inflateSync(bytes)
          : bytes;
  return decoded.toString("utf8");
}
