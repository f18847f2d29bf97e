import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { errorEnvelope, MAX_PARTS, type ErrorProblem } from "@upload-gateway/contract";
import type { FastifyInstance, FastifyReply } from "fastify";
import type {} from "@fastify/compress"; // its route option `compress`
import { toApiError } from "../errors/api-error";
import type { LocalStorage } from "./local.storage";

/**
 * The embedded store's S3-like HTTP face: clients PUT parts and GET objects at the signed URLs `LocalStorage`
 * hands out, exactly as they would at S3's. Registered only in local mode, in its own Fastify scope so that its
 * raw-body handling does not touch the JSON API.
 */
export function localStorageRoutes(storage: LocalStorage) {
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
    }>("/storage/uploads/:uploadId/parts/:partNumber", { compress: false }, async (request, reply) => {
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
        // Only the decimal form the signer wrote; anything else cannot match a signature.
        size: /^(0|[1-9]\d{0,15})$/.test(size) ? Number(size) : -1,
        expires: Number(expires),
      };
      const verdict = storage.verifyGrant(grant, signature);
      if (verdict !== "ok") return refuseSignature(reply, verdict);

      const declared = request.headers["content-length"];
      const body = (request.body as Readable | undefined) ?? request.raw;
      try {
        const part = await storage.writePart(
          key,
          grant.uploadId,
          partNumber,
          body,
          grant.size,
          declared ? Number(declared) : undefined,
        );
        return reply.status(200).header("etag", part.eTag).send();
      } catch (error) {
        const apiError = toApiError(error);
        if (!apiError) throw error;
        // A refused body may still be arriving: close the connection rather than read gigabytes for nothing.
        if (apiError.status === 413 || apiError.problems[0].code === "PART_SIZE_MISMATCH") {
          void reply.header("connection", "close");
        }
        return reply.status(apiError.status).send(apiError.toEnvelope());
      }
    });

    app.route<{ Params: { "*": string }; Querystring: { expires?: string; signature?: string } }>({
      method: ["GET", "HEAD"],
      url: "/storage/objects/*",
      // Objects are served byte for byte, like S3 does: ranges and lengths must refer to the stored bytes.
      compress: false,
      handler: async (request, reply) => {
        const key = request.params["*"];
        const { expires = "", signature = "" } = request.query;
        const verdict = storage.verifyGrant({ method: "GET", key, expires: Number(expires) }, signature);
        if (verdict !== "ok") return refuseSignature(reply, verdict);
        const object = await storage.openObject(key);
        if (!object) return fail(reply, { code: "UPLOAD_NOT_FOUND", message: "No such object." });

        const range = parseRange(request.headers.range, object.size);
        if (range === "unsatisfiable") {
          return reply.status(416).header("content-range", `bytes */${object.size}`).send();
        }
        const { start, end } = range ?? { start: 0, end: object.size - 1 };
        void reply
          .status(range ? 206 : 200)
          .header("accept-ranges", "bytes")
          .header("content-type", object.contentType)
          .header("content-disposition", object.contentDisposition)
          .header("content-length", String(Math.max(0, end - start + 1)));
        if (range) void reply.header("content-range", `bytes ${start}-${end}/${object.size}`);
        if (request.method === "HEAD" || object.size === 0) return reply.send();
        return reply.send(createReadStream(object.path, { start, end }));
      },
    });
    done();
  };
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

/** One `bytes=` range (the forms browsers and players send), or undefined for the whole object. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | "unsatisfiable" | undefined {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match || (match[1] === "" && match[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (match[1] === "") {
    start = Math.max(0, size - Number(match[2])); // the last N bytes
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start >= size || start > end) return "unsatisfiable";
  return { start, end };
}
