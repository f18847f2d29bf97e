import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";

export const REQUEST_ID_HEADER = "x-request-id";

/**
 * An id a caller or proxy may hand us is kept only if it is short and plain (UUIDs, ULIDs, hex, trace ids): it ends
 * up in every log line and in a reply header, so control characters, quotes or 10 KB of text must not get through.
 */
const ACCEPTED_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's id: its valid `X-Request-Id`, or a new UUID. Fastify's `genReqId`. */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers[REQUEST_ID_HEADER];
  return typeof given === "string" && ACCEPTED_REQUEST_ID.test(given) ? given : randomUUID();
}
