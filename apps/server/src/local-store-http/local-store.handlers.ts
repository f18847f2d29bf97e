import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { Logger } from "@nestjs/common";
import { errorEnvelope, MAX_PARTS, type ErrorProblem } from "@upload-gateway/contract";
import { toApiError } from "../errors/api-error";
import { hasBody, TimedBody } from "../http/body-timeouts";
import type { ReplyOf } from "../http/platform-reply";
import { CONTENT_TYPE_PARAM, METADATA_PARAM } from "../storage/local-url-signer";
import type { ServedStore } from "../storage/served-store";
import { METADATA_NAME } from "../storage/storage.port";
import { unsafeInline } from "../uploads/content-check/type-families";
import { parseRange } from "./byte-range";

/**
 * The embedded store's S3-like HTTP face, independent of the HTTP platform: clients PUT parts and GET objects at the
 * signed URLs `LocalStorage` hands out, exactly as they would at S3's. Each handler takes what it needs of a request
 * and answers what to reply; local-store.fastify.ts and local-store.express.ts route requests to them and send the
 * replies, so the two platforms differ in routing only.
 */
export interface StoreRequest {
  method: string;
  headers: IncomingHttpHeaders;
  query: Record<string, string | string[] | undefined>;
  /** The request's body as it arrives, never parsed. */
  body: Readable;
  /** Whether the client is gone (its connection closed before the reply). */
  aborted(): boolean;
}

/** The headers every reply of the store carries: browsers PUT parts from a page's origin and must read the ETag. */
export const STORE_CORS_HEADERS: OutgoingHttpHeaders = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, HEAD, PUT, OPTIONS",
  "access-control-allow-headers": "*",
  "access-control-expose-headers": "ETag, Retry-After, Content-Length, Content-Range, Accept-Ranges",
  "access-control-max-age": "3600",
};

const logger = new Logger("LocalStore");

/** What the handlers answer; the CORS headers are added by `answered`. */
export type StoreReply = ReplyOf & { headers: OutgoingHttpHeaders };
type Reply = StoreReply;

/** A preflight of any store URL. */
export function preflight(): Promise<Reply> {
  return Promise.resolve({ status: 204, headers: { ...STORE_CORS_HEADERS } });
}

/** `PUT /storage/uploads/:uploadId/parts/:partNumber`: one part of a multipart upload. */
export function putPart(
  storage: ServedStore,
  request: StoreRequest,
  params: { uploadId: string; partNumber: string },
): Promise<Reply> {
  return answered(request, async () => {
    const partNumber = Number(params.partNumber);
    const {
      key = "",
      size = "",
      expires = "",
      signature = "",
    } = stringsOf(request.query, ["key", "size", "expires", "signature"]);
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PARTS) {
      return fail({ code: "VALIDATION_FAILED", field: "partNumber", message: `must be from 1 to ${MAX_PARTS}` });
    }
    const grant = {
      method: "PUT" as const,
      key,
      uploadId: params.uploadId,
      partNumber,
      size: parseSize(size),
      expires: Number(expires),
    };
    const verdict = storage.verifyGrant(grant, signature);
    if (verdict !== "ok") return refuseSignature(verdict);
    return storeBody(request, (body, options) =>
      storage.writePart(key, grant.uploadId, partNumber, body, { expectedSize: grant.size, ...options }),
    );
  });
}

/**
 * `PUT /storage/objects/<key>`: a single-PUT upload's URL (`presignPutObject`), the whole object in one request, once:
 * the store refuses it with 412 once the object exists, with or without `If-None-Match: *`. The URL carries the
 * object's type and metadata, signed, so a PUT of the body alone stores it; the request's `Content-Type` is not used.
 */
export function putObject(storage: ServedStore, request: StoreRequest, key: string): Promise<Reply> {
  return answered(request, async () => {
    const query = stringsOf(request.query, ["size", "expires", "signature", CONTENT_TYPE_PARAM]);
    const { size = "", expires = "", signature = "" } = query;
    // URLs signed before the type was in the query signed the request's Content-Type instead.
    const contentType = query[CONTENT_TYPE_PARAM] ?? request.headers["content-type"] ?? "";
    const metadata = metadataOf(request.query);
    if (metadata === "invalid") return refuseSignature("invalid");
    const grant = {
      method: "PUT" as const,
      key,
      size: parseSize(size),
      contentType,
      metadata,
      expires: Number(expires),
    };
    const verdict = storage.verifyGrant(grant, signature);
    if (verdict !== "ok") return refuseSignature(verdict);
    return storeBody(request, (body, options) =>
      storage.writeObject(key, body, { expectedSize: grant.size, contentType, metadata, ...options }),
    );
  });
}

/** `GET` and `HEAD /storage/objects/<key>`: a download, byte for byte like S3's (ranges refer to the stored bytes). */
export function getObject(storage: ServedStore, request: StoreRequest, key: string): Promise<Reply> {
  return answered(request, async () => {
    const {
      expires = "",
      signature = "",
      disposition,
    } = stringsOf(request.query, ["expires", "signature", "disposition"]);
    const grant = {
      method: "GET" as const,
      key,
      expires: Number(expires),
      ...(disposition !== undefined ? { contentDisposition: disposition } : {}),
    };
    const verdict = storage.verifyGrant(grant, signature);
    if (verdict !== "ok") return refuseSignature(verdict);
    const object = await storage.openObject(key);
    if (!object) return fail({ code: "UPLOAD_NOT_FOUND", message: "No such object." });

    const range = parseRange(request.headers.range, object.size);
    if (range === "unsatisfiable") {
      const refused = fail({ code: "RANGE_NOT_SATISFIABLE" });
      return { ...refused, headers: { ...refused.headers, "content-range": `bytes */${object.size}` } };
    }
    const { start, end } = range ?? { start: 0, end: object.size - 1 };
    const headers: OutgoingHttpHeaders = {
      "accept-ranges": "bytes",
      // Uploaded bytes from the gateway's own origin: never markup, script or text a browser would render or run here.
      "content-type": unsafeInline(object.contentType) ? "application/octet-stream" : object.contentType,
      "content-disposition": disposition ?? object.contentDisposition,
      "x-content-type-options": "nosniff",
      "content-length": String(Math.max(0, end - start + 1)),
    };
    // As S3 answers an object's metadata: one x-amz-meta-<name> header each (values a header can carry).
    for (const [name, value] of Object.entries(object.metadata)) {
      if (/^[\x20-\x7e]*$/.test(value) && METADATA_NAME.test(name)) headers[`${METADATA_PARAM}${name}`] = value;
    }
    if (range) headers["content-range"] = `bytes ${start}-${end}/${object.size}`;
    const status = range ? 206 : 200;
    if (request.method === "HEAD" || object.size === 0) return { status, headers };
    return { status, headers, body: object.read(start, end) };
  });
}

/**
 * Runs a handler and adds the store's CORS headers to its reply. A failure it did not answer itself is answered here,
 * in the envelope: a client gone mid-body is logged as its choice (the reply goes nowhere), anything else is a bug
 * (500, logged).
 */
async function answered(request: StoreRequest, handle: () => Promise<Reply>): Promise<Reply> {
  let reply: Reply;
  try {
    reply = await handle();
  } catch (error) {
    if (request.aborted()) {
      logger.log(`The client closed its ${request.method} of a store URL before the reply.`);
      reply = closing(
        fail({ code: "MALFORMED_REQUEST", message: "The client closed the request before its body ended." }),
      );
    } else {
      logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
      reply = closing(fail({ code: "INTERNAL_ERROR" }));
    }
  }
  return { ...reply, headers: { ...STORE_CORS_HEADERS, ...reply.headers } };
}

/** The named query parameters that were given once; a repeated one counts as absent (it cannot match a signature). */
function stringsOf<N extends string>(query: StoreRequest["query"], names: N[]): Partial<Record<N, string>> {
  return Object.fromEntries(
    names.flatMap((name) => (typeof query[name] === "string" ? [[name, query[name]]] : [])),
  ) as Partial<Record<N, string>>;
}

/** The object's metadata from a single-PUT URL's `x-amz-meta-*` parameters; "invalid" when one is repeated. */
function metadataOf(query: StoreRequest["query"]): Record<string, string> | "invalid" {
  const entries: [string, string][] = [];
  for (const [name, value] of Object.entries(query)) {
    if (!name.startsWith(METADATA_PARAM)) continue;
    if (typeof value !== "string") return "invalid";
    entries.push([name.slice(METADATA_PARAM.length), value]);
  }
  // fromEntries, not assignment: a name such as `__proto__` stays a plain entry.
  return Object.fromEntries(entries);
}

/** Only the decimal form the signer wrote; anything else cannot match a signature. */
function parseSize(size: string): number {
  return /^(0|[1-9]\d{0,15})$/.test(size) ? Number(size) : -1;
}

interface BodyChecks {
  declaredLength?: number;
  contentMd5?: Buffer;
}

/**
 * Streams a signed PUT's body to the store with the request's `Content-Length` and `Content-MD5` and answers its ETag;
 * a refused body answers in the envelope (and closes the connection when the rest of the body would be read for
 * nothing).
 */
async function storeBody(
  request: StoreRequest,
  write: (body: Readable, checks: BodyChecks) => Promise<{ eTag: string }>,
): Promise<Reply> {
  const contentMd5 = parseContentMd5(request.headers["content-md5"]);
  if (contentMd5 === "invalid") {
    return closing(
      fail({
        code: "VALIDATION_FAILED",
        field: "Content-MD5",
        message: "must be the base64 encoding of the body's 16-byte MD5 digest",
      }),
    );
  }
  const declared = request.headers["content-length"];
  const { body } = request;
  try {
    const stored = await write(body, {
      ...(declared ? { declaredLength: Number(declared) } : {}),
      ...(contentMd5 ? { contentMd5 } : {}),
    });
    return { status: 200, headers: { etag: stored.eTag } };
  } catch (error) {
    const apiError = toApiError(error);
    if (!apiError) throw error;
    const reply = { status: apiError.status, headers: apiError.headers, body: apiError.toEnvelope() };
    if (apiError.problems[0].code === "PRECONDITION_FAILED" && declared && !body.readableEnded) {
      // A single PUT to a URL whose file is stored: read the rest of the body (its declared length is the signed
      // one) and answer, as S3 does. Closing mid-body would make most clients report a network error, not the 412
      // that tells a retry after a lost reply that its first attempt stored the file.
      await finished(body.resume()).catch(() => undefined);
      return reply;
    }
    // A refused body may still be arriving: close the connection rather than read gigabytes for nothing.
    if (apiError.status === 413 || apiError.problems[0].code === "PART_SIZE_MISMATCH" || !body.readableEnded)
      return closing(reply);
    return reply;
  }
}

/** The digest of a `Content-MD5` header (base64 of 16 bytes, as S3 takes it); undefined when absent. */
function parseContentMd5(header: string | string[] | undefined): Buffer | "invalid" | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== "string" || !/^[A-Za-z0-9+/]{22}==$/.test(header.trim())) return "invalid";
  return Buffer.from(header.trim(), "base64");
}

function refuseSignature(verdict: "expired" | "invalid"): Reply {
  return fail({
    code: "FORBIDDEN",
    message: verdict === "expired" ? "This URL has expired." : "This URL's signature does not match what it asks for.",
  });
}

function fail(problem: ErrorProblem): Reply {
  const body = errorEnvelope([problem]);
  return { status: body.statusCode, headers: {}, body };
}

/** The reply, on a connection that then closes: the rest of the request's body will not be read. */
function closing(reply: Reply): Reply {
  return { ...reply, headers: { ...reply.headers, connection: "close" } };
}

/**
 * The body a store route reads: as the standalone server's body timeouts already wrap it, or else (the module in an
 * app of its own, on Fastify or Express) cut by the same idle timeout here, so that a stalled part answers 408
 * `REQUEST_TIMEOUT` and leaves nothing behind, and a client that hangs up mid-body is told apart from an outage.
 */
export function timedStoreBody(
  request: IncomingMessage,
  response: ServerResponse,
  body: Readable,
  idleMs: number,
): Readable {
  if (body instanceof TimedBody || !hasBody(request.headers)) return body;
  return new TimedBody(request, response, request, idleMs, undefined);
}

/** Whether the client went away before its reply: its request was cut mid-body, or its connection closed. */
export function clientGone(request: IncomingMessage, response: ServerResponse): boolean {
  return (request.destroyed && !request.complete) || response.destroyed;
}
