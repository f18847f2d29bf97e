import type { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { errorEnvelope, MAX_PARTS, type ErrorProblem } from "@upload-gateway/contract";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type {} from "@fastify/compress"; // its route option `compress`
import { toApiError } from "../errors/api-error";
import { METADATA_PARAM, type LocalStorage } from "../storage/local.storage";
import { parseRange } from "./byte-range";

/**
 * The embedded store's S3-like HTTP face: clients PUT parts and GET objects at the signed URLs `LocalStorage`
 * hands out, exactly as they would at S3's. Registered only in local mode, in its own Fastify scope so that its
 * raw-body handling does not touch the JSON API.
 */
export function localStoreRoutes(storage: LocalStorage) {
  return function routes(app: FastifyInstance, _options: unknown, done: () => void): void {
    // Part bodies are raw bytes of any type: take the stream as it is, whatever the Content-Type.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", (_request, payload, done) => done(null, payload));

    app.addHook("onRequest", async (_request, reply) => {
      // Browsers PUT parts from the page's origin and must read the ETag of the reply (and Retry-After to back off).
      void reply.headers({
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "GET, HEAD, PUT, OPTIONS",
        "access-control-allow-headers": "*",
        "access-control-expose-headers": "ETag, Retry-After, Content-Length, Content-Range, Accept-Ranges",
        "access-control-max-age": "3600",
      });
    });
    app.options("/storage/*", async (_request, reply) => reply.status(204).send());

    app.put<{
      Params: { uploadId: string; partNumber: string };
      Querystring: { key?: string; size?: string; expires?: string; signature?: string };
    }>("/storage/uploads/:uploadId/parts/:partNumber", { compress: false, config: { streamedBody: true } }, async (request, reply) => {
      const partNumber = Number(request.params.partNumber);
      const { key = "", size = "", expires = "", signature = "" } = request.query;
      if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PARTS) {
        return fail(reply, { code: "VALIDATION_FAILED", field: "partNumber", message: `must be from 1 to ${MAX_PARTS}` });
      }
      const grant = {
        method: "PUT" as const,
        key,
        uploadId: request.params.uploadId,
        partNumber,
        size: parseSize(size),
        expires: Number(expires),
      };
      const verdict = storage.verifyGrant(grant, signature);
      if (verdict !== "ok") return refuseSignature(reply, verdict);
      return storeBody(request, reply, (body, options) =>
        storage.writePart(key, grant.uploadId, partNumber, body, { expectedSize: grant.size, ...options }),
      );
    });

    // A single-PUT upload's URL (`presignPutObject`): the whole object in one request, once, like S3's PutObject with
    // If-None-Match: * (the store refuses it with 412 once the object exists).
    app.put<{ Params: { "*": string }; Querystring: Record<string, string | string[] | undefined> }>(
      "/storage/objects/*",
      { compress: false, config: { streamedBody: true } },
      async (request, reply) => {
        const key = request.params["*"];
        const { size, expires, signature } = request.query;
        // The signature binds the Content-Type, as S3's does: a request with another type does not match it.
        const contentType = request.headers["content-type"] ?? "";
        const metadata = metadataOf(request.query);
        if (metadata === "invalid") return refuseSignature(reply, "invalid");
        const grant = {
          method: "PUT" as const,
          key,
          size: parseSize(typeof size === "string" ? size : ""),
          contentType,
          metadata,
          expires: Number(expires),
        };
        const verdict = storage.verifyGrant(grant, typeof signature === "string" ? signature : "");
        if (verdict !== "ok") return refuseSignature(reply, verdict);
        // S3's single-PUT URLs sign `If-None-Match: *`, so S3 refuses a request without it (403): the same here, so
        // that a client forgetting it fails on both stores alike.
        if (request.headers["if-none-match"]?.trim() !== "*") {
          void reply.header("connection", "close");
          return fail(reply, {
            code: "FORBIDDEN",
            field: "If-None-Match",
            message: "This URL is signed for the header If-None-Match: * (it stores the file once): send it.",
          });
        }
        return storeBody(request, reply, (body, options) =>
          storage.writeObject(key, body, { expectedSize: grant.size, contentType, metadata, ...options }),
        );
      },
    );

    app.route<{ Params: { "*": string }; Querystring: { expires?: string; signature?: string; disposition?: string } }>({
      method: ["GET", "HEAD"],
      url: "/storage/objects/*",
      // Objects are served byte for byte, like S3 does: ranges and lengths must refer to the stored bytes.
      compress: false,
      handler: async (request, reply) => {
        const key = request.params["*"];
        const { expires = "", signature = "", disposition } = request.query;
        const grant = { method: "GET" as const, key, expires: Number(expires), ...(disposition !== undefined ? { contentDisposition: disposition } : {}) };
        const verdict = storage.verifyGrant(grant, signature);
        if (verdict !== "ok") return refuseSignature(reply, verdict);
        const object = await storage.openObject(key);
        if (!object) return fail(reply, { code: "UPLOAD_NOT_FOUND", message: "No such object." });

        const range = parseRange(request.headers.range, object.size);
        if (range === "unsatisfiable") {
          return fail(reply.header("content-range", `bytes */${object.size}`), { code: "RANGE_NOT_SATISFIABLE" });
        }
        const { start, end } = range ?? { start: 0, end: object.size - 1 };
        void reply
          .status(range ? 206 : 200)
          .header("accept-ranges", "bytes")
          .header("content-type", object.contentType)
          .header("content-disposition", disposition ?? object.contentDisposition)
          .header("content-length", String(Math.max(0, end - start + 1)));
        // As S3 answers an object's metadata: one x-amz-meta-<name> header each (values a header can carry).
        for (const [name, value] of Object.entries(object.metadata)) {
          if (/^[\x20-\x7e]*$/.test(value) && /^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) void reply.header(`${METADATA_PARAM}${name}`, value);
        }
        if (range) void reply.header("content-range", `bytes ${start}-${end}/${object.size}`);
        if (request.method === "HEAD" || object.size === 0) return reply.send();
        return reply.send(object.read(start, end));
      },
    });
    done();
  };
}

/** The object's metadata from a single-PUT URL's `x-amz-meta-*` parameters; "invalid" when one is repeated. */
function metadataOf(query: Record<string, string | string[] | undefined>): Record<string, string> | "invalid" {
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
  request: FastifyRequest,
  reply: FastifyReply,
  write: (body: Readable, checks: BodyChecks) => Promise<{ eTag: string }>,
) {
  const contentMd5 = parseContentMd5(request.headers["content-md5"]);
  if (contentMd5 === "invalid") {
    void reply.header("connection", "close");
    return fail(reply, {
      code: "VALIDATION_FAILED",
      field: "Content-MD5",
      message: "must be the base64 encoding of the body's 16-byte MD5 digest",
    });
  }
  const declared = request.headers["content-length"];
  const body = (request.body as Readable | undefined) ?? request.raw;
  try {
    const stored = await write(body, {
      ...(declared ? { declaredLength: Number(declared) } : {}),
      ...(contentMd5 ? { contentMd5 } : {}),
    });
    return reply.status(200).header("etag", stored.eTag).send();
  } catch (error) {
    const apiError = toApiError(error);
    if (!apiError) throw error;
    if (apiError.problems[0].code === "PRECONDITION_FAILED" && declared && !body.readableEnded) {
      // A single PUT to a URL whose file is stored: read the rest of the body (its declared length is the signed
      // one) and answer, as S3 does. Closing mid-body would make most clients report a network error, not the 412
      // that tells a retry after a lost reply that its first attempt stored the file.
      await finished(body.resume()).catch(() => undefined);
      return reply.status(apiError.status).send(apiError.toEnvelope());
    }
    // A refused body may still be arriving: close the connection rather than read gigabytes for nothing.
    if (apiError.status === 413 || apiError.problems[0].code === "PART_SIZE_MISMATCH" || !body.readableEnded) {
      void reply.header("connection", "close");
    }
    return reply.status(apiError.status).send(apiError.toEnvelope());
  }
}

/** The digest of a `Content-MD5` header (base64 of 16 bytes, as S3 takes it); undefined when absent. */
function parseContentMd5(header: string | string[] | undefined): Buffer | "invalid" | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== "string" || !/^[A-Za-z0-9+/]{22}==$/.test(header.trim())) return "invalid";
  return Buffer.from(header.trim(), "base64");
}

function refuseSignature(reply: FastifyReply, verdict: "expired" | "invalid") {
  return fail(reply, {
    code: "FORBIDDEN",
    message: verdict === "expired" ? "This URL has expired." : "This URL's signature does not match what it asks for.",
  });
}

function fail(reply: FastifyReply, problem: ErrorProblem) {
  const body = errorEnvelope([problem]);
  return reply.status(body.statusCode).send(body);
}
