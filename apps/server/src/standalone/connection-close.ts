import type { FastifyReply, FastifyRequest } from "fastify";

/** The `close` option among a request's Connection headers (Node joins repeated ones with commas). */
const CLOSE_OPTION = /(?:^|,)\s*close\s*(?:,|$)/i;

/**
 * Answers a client that asks to close on a closing connection, whatever else it sends: Node keeps an HTTP/1.0
 * connection that says both `keep-alive` and `close` open, and so did Fastify for a request saying `HTTP/2.0` over
 * HTTP/1. Called by every path a reply can take: the hooks before a route, and the answers to what cannot be routed.
 */
export function honourConnectionClose(request: FastifyRequest, reply: FastifyReply): void {
  if (CLOSE_OPTION.test(request.headers.connection ?? "")) void reply.header("connection", "close");
}
