import { ERROR_CODES, type ErrorCode } from "@upload-gateway/contract";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { scrubSecrets } from "./redaction";
import { REQUEST_ID_HEADER } from "./request-id";

/** The failure behind a 5xx reply, kept until the access line is written (so the line carries its cause). */
const failures = new WeakMap<object, unknown>();
/** Who made the request, once authenticated (see `noteCaller`). */
const callers = new WeakMap<object, Caller>();
/** The first error code of an error reply's envelope. */
const errorCodes = new WeakMap<object, ErrorCode>();

/** Envelopes longer than this are not read for their code (no error envelope comes close). */
const MAX_ENVELOPE_READ = 64 * 1024;
/** An `Origin` header is logged up to this length: it is the client's text. */
const MAX_ORIGIN_LOGGED = 200;

/** What an access line says of the caller: names only, never a credential. */
export type Caller = { keyName: string } | { tokenId: string } | { token: true };

/** Attaches `error` to `request`'s access line. Called where failures become replies (the exception filter). */
export function noteFailure(request: FastifyRequest | object, error: unknown): void {
  failures.set(request, error);
}

/** Attaches the authenticated caller to `request`'s access line (the authenticator calls it). */
export function noteCaller(request: object, caller: Caller): void {
  callers.set(request, caller);
}

/** The route pattern a request matched (`/api/projects/:projectId/uploads/multipart`), never the raw URL. */
export function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? "(unmatched)";
}

/**
 * Echoes the request id on every reply and writes one access line per request when the reply is done: method, route
 * pattern, status, duration, request id (the child logger's `requestId`), and for 5xx the failure with its cause.
 * Error replies (4xx, 5xx) add what an operator asks first: the envelope's first error `code`, the caller (`keyName`
 * of an API key, or the token's id; never the credential) and the page's `origin` (a refused CORS preflight's, say).
 * Registered on the root instance before any route, so it also covers the embedded store's routes and 404s.
 */
export function registerAccessLog(fastify: FastifyInstance): void {
  fastify.addHook("onRequest", (request, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  // Before any other onSend hook (compression): the payload is still the envelope's JSON text.
  fastify.addHook("onSend", (request, reply, payload, done) => {
    if (reply.statusCode >= 400) {
      const code = envelopeCode(payload);
      if (code !== undefined) errorCodes.set(request, code);
    }
    done(null, payload);
  });
  fastify.addHook("onResponse", (request, reply, done) => {
    const status = reply.statusCode;
    const failure = failures.get(request);
    const origin = request.headers.origin;
    const line = {
      method: request.method,
      route: routeOf(request),
      url: scrubSecrets(request.url),
      status,
      durationMs: Math.round(reply.elapsedTime * 10) / 10,
      ip: request.ip,
      ...(status >= 400
        ? {
            ...(errorCodes.has(request) ? { code: errorCodes.get(request) } : {}),
            ...callers.get(request),
            ...(typeof origin === "string" ? { origin: origin.slice(0, MAX_ORIGIN_LOGGED) } : {}),
          }
        : {}),
      ...(failure === undefined ? {} : { err: failure }),
    };
    if (status >= 500) request.log.error(line, "request failed");
    else request.log.info(line, "request completed");
    done();
  });
}

/** The first `errorDetails` code of an envelope sent as JSON text; undefined for anything else. */
function envelopeCode(payload: unknown): ErrorCode | undefined {
  if (typeof payload !== "string" || payload.length > MAX_ENVELOPE_READ || !payload.startsWith("{")) return undefined;
  let code: unknown;
  try {
    code = (JSON.parse(payload) as { errorDetails?: { code?: unknown }[] }).errorDetails?.[0]?.code;
  } catch {
    return undefined;
  }
  // Only codes of the closed set: the text is ours, but a line must never carry arbitrary text under `code`.
  return typeof code === "string" && Object.hasOwn(ERROR_CODES, code) ? (code as ErrorCode) : undefined;
}
