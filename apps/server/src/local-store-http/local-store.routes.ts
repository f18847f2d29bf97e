import type { Readable } from "node:stream";
import { errorEnvelope, MAX_PARTS, type ErrorProblem } from "@upload-gateway/contract";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type {} from "@fastify/compress"; // its route option `compress`
import { toApiError } from "../errors/api-error";
import type { LocalStorage } from "../storage/local.storage";
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

    // A single-PUT upload's URL (`presignPutObject`): the whole object in one request, like S3's PutObject.
    app.put<{ Params: { "*": string }; Querystring: { size?: string; expires?: string; signature?: string } }>(
      "/storage/objects/*",
      { compress: false, config: { streamedBody: true } },
      async (request, reply) => {
        const key = request.params["*"];
        const { size = "", expires = "", signature = "" } = request.query;
        // The signature binds the Content-Type, as S3's does: a request with another type does not match it.
        const contentType = request.headers["content-type"] ?? "";
        const grant = { method: "PUT" as const, key, size: parseSize(size), contentType, expires: Number(expires) };
        const verdict = storage.verifyGrant(grant, signature);
        if (verdict !== "ok") return refuseSignature(reply, verdict);
        return storeBody(request, reply, (body, options) =>
          storage.writeObject(key, body, { expectedSize: grant.size, contentType, ...options }),
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
        if (range) void reply.header("content-range", `bytes ${start}-${end}/${object.size}`);
        if (request.method === "HEAD" || object.size === 0) return reply.send();
        return reply.send(object.read(start, end));
      },
    });
    done();
  };
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
