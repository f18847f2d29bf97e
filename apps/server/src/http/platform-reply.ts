import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { FastifyReply } from "fastify";

/**
 * A reply of either HTTP platform Nest runs the gateway on: Fastify's reply, or Express's response (a Node
 * `ServerResponse` with Express's methods added, none of which is used here). The gateway's own routes answer through
 * `sendReply` so that their status, headers and bytes are the same on both, and Express adds nothing of its own (no
 * ETag of its making, no freshness check, no `X-Powered-By` decisions taken for us).
 */
export type PlatformReply = FastifyReply | ServerResponse;

/** What a reply carries: nothing, bytes, a stream of bytes, or a value sent as JSON (an envelope). */
export type ReplyBody = undefined | string | Buffer | Readable | object;

export interface ReplyOf {
  status: number;
  headers?: OutgoingHttpHeaders;
  body?: ReplyBody;
}

const JSON_TYPE = "application/json; charset=utf-8";

function isFastifyReply(reply: PlatformReply): reply is FastifyReply {
  return "raw" in reply && typeof reply.code === "function";
}

/** Sets one header on the reply, whichever platform it belongs to. */
export function setReplyHeader(reply: PlatformReply, name: string, value: string | number | readonly string[]): void {
  if (isFastifyReply(reply)) void reply.header(name, value);
  else reply.setHeader(name, value);
}

/** Whether the reply's head has gone out already (then nothing about it can change any more). */
export function replySent(reply: PlatformReply): boolean {
  return isFastifyReply(reply) ? reply.sent : reply.headersSent;
}

/** Answers `status`, `headers` and `body` on either platform. Resolves once the body is handed over (or has failed). */
export async function sendReply(reply: PlatformReply, { status, headers = {}, body }: ReplyOf): Promise<void> {
  const isJson =
    body !== undefined && typeof body !== "string" && !Buffer.isBuffer(body) && !(body instanceof Readable);
  const allHeaders = isJson ? { "content-type": JSON_TYPE, ...headers } : headers;
  if (isFastifyReply(reply)) {
    await reply.status(status).headers(allHeaders).send(body);
    return;
  }
  reply.statusCode = status;
  for (const [name, value] of Object.entries(allHeaders)) if (value !== undefined) reply.setHeader(name, value);
  if (body instanceof Readable) {
    // A client gone mid-download ends the pipeline with an error: the stream is closed with it, nothing to answer.
    await pipeline(body, reply).catch(() => undefined);
    return;
  }
  reply.end(isJson ? JSON.stringify(body) : body);
}
