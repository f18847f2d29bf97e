import type { Socket } from "node:net";
import { STATUS_CODES } from "node:http";
import { errorEnvelope, type ErrorProblem } from "@upload-gateway/contract";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { honourConnectionClose } from "./connection-close";

/** How long a socket we answered from outside Fastify may linger for its reply to leave before it is destroyed. */
const LINGER_MS = 2000;

/**
 * Answers what Node's HTTP parser refuses before Fastify sees a request (bad Content-Length, header overflow, a
 * stalled header section, garbage): a raw HTTP/1.1 reply with the envelope, then the connection closes, since the
 * byte stream can no longer be trusted to hold requests. Node calls this for `clientError`.
 */
export function answerClientError(error: NodeJS.ErrnoException & { reason?: string }, socket: Socket): void {
  // A reset connection has no one to answer; a reply already under way cannot be replaced by another.
  const replying = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (error.code === "ECONNRESET" || socket.destroyed || !socket.writable || replying) {
    socket.destroy();
    return;
  }
  const envelope = errorEnvelope([clientErrorProblem(error)]);
  const status = envelope.statusCode;
  const body = JSON.stringify(envelope);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      "Content-Type: application/json; charset=utf-8\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      "Connection: close\r\n\r\n" +
      body,
  );
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

function clientErrorProblem(error: NodeJS.ErrnoException & { reason?: string }): ErrorProblem {
  if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") {
    return { code: "REQUEST_TIMEOUT", message: "The request's headers did not arrive in time." };
  }
  if (error.code === "HPE_HEADER_OVERFLOW") return { code: "HEADERS_TOO_LARGE" };
  // llhttp's reason says what is wrong ("Invalid character in Content-Length"); nothing in it is secret.
  return {
    code: "MALFORMED_REQUEST",
    message: `The request is not valid HTTP: ${error.reason ?? error.code ?? "unreadable"}.`,
  };
}

/**
 * Answers what Fastify's router refuses before any route or hook runs: a URL whose `%` escapes do not decode, a path
 * parameter longer than the router allows, a failed constraint.
 */
export function answerFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  honourConnectionClose(request, reply); // no hook runs before this answer
  const problem: ErrorProblem =
    error.code === "FST_ERR_BAD_URL"
      ? {
          code: "MALFORMED_REQUEST",
          message: "The URL is not valid: a %-escape in its path does not decode to UTF-8 text.",
        }
      : error.code === "FST_ERR_MAX_PARAM_LENGTH"
        ? { code: "VALIDATION_FAILED", message: "A path segment of the URL is too long." }
        : { code: "MALFORMED_REQUEST", message: "The request cannot be routed." };
  const envelope = errorEnvelope([problem]);
  void reply.status(envelope.statusCode).header("content-type", "application/json; charset=utf-8").send(envelope);
}
