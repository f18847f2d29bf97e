import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { Transform, type TransformCallback } from "node:stream";
import { Logger } from "@nestjs/common";
import type { FastifyInstance } from "fastify";
import { ApiError } from "../errors/api-error";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * The route streams its body to storage (a part PUT, up to 5 GiB): only the idle timeout applies to it, not the
     * total one, which is sized for JSON bodies.
     */
    streamedBody?: boolean;
  }
}

export interface BodyTimeouts {
  /** A body that sends no byte for this long is cut. */
  idleMs: number;
  /** A body of a route that does not stream it must have arrived whole within this long. */
  totalMs: number;
}

const logger = new Logger("Http");

/**
 * Cuts request bodies that stall or dawdle: a 408 in the envelope (then the connection closes, as the rest of the
 * body is never read), and whatever consumes the body (the JSON parser, a part being written to disk) sees the stream
 * fail, so a half-received part is discarded. A client that closes its own request mid-body is logged at info: it
 * is the client's choice, not a fault of the server.
 */
export function registerBodyTimeouts(app: FastifyInstance, timeouts: BodyTimeouts): void {
  app.addHook("preParsing", (request, reply, payload, done) => {
    if (!hasBody(request.headers)) return done(null, payload);
    const totalMs = request.routeOptions.config?.streamedBody ? undefined : timeouts.totalMs;
    done(null, new TimedBody(request.raw, reply.raw, payload as IncomingMessage, timeouts.idleMs, totalMs));
  });
}

/** Whether a request has a body: a `Transfer-Encoding`, or a `Content-Length` other than 0. */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  return (
    headers["transfer-encoding"] !== undefined ||
    (headers["content-length"] !== undefined && headers["content-length"] !== "0")
  );
}

/**
 * The request body, passed through with an idle timer and, optionally, a deadline. Platform-neutral (Node's request
 * and response): the Fastify hook above wraps every body with it, and the embedded store's routes wrap theirs when the
 * app has no such hook (the module in an app of its own, on Fastify or Express).
 */
export class TimedBody extends Transform {
  /** Bytes received; Fastify's body reader compares it with the Content-Length and the body limit. */
  receivedEncodedLength = 0;
  private readonly idle: NodeJS.Timeout;
  private readonly deadline: NodeJS.Timeout | undefined;

  constructor(
    private readonly request: IncomingMessage,
    private readonly response: ServerResponse,
    private readonly source: IncomingMessage,
    private readonly idleMs: number,
    totalMs: number | undefined,
  ) {
    super();
    this.idle = setTimeout(() => this.onIdle(), idleMs).unref();
    this.deadline =
      totalMs === undefined
        ? undefined
        : setTimeout(() => this.cut(`The request body did not arrive within ${totalMs / 1000} s.`), totalMs).unref();
    source.once("close", () => this.onSourceClosed());
    source.pipe(this);
    this.once("close", () => this.stopTimers());
    // Once the reply is out, the body no longer matters (a route may answer without reading it, e.g. a GET).
    response.once("close", () => this.stopTimers());
    // Whoever reads the body hears its errors; a body nobody reads must not crash the process with them.
    this.on("error", () => undefined);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.receivedEncodedLength += chunk.length;
    this.idle.refresh();
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.stopTimers();
    callback();
  }

  private onIdle(): void {
    // Bytes waiting here mean whoever reads the body is slow (a busy disk), not the client: give it time.
    if (this.readableLength > 0 || this.writableLength > 0) {
      this.idle.refresh();
      return;
    }
    this.cut(`The request body sent nothing for ${this.idleMs / 1000} s.`);
  }

  private cut(message: string): void {
    if (this.destroyed || this.writableEnded) return;
    this.stopTimers();
    this.source.unpipe(this);
    // The rest of the body will never be read, so the connection cannot carry another request.
    if (!this.response.headersSent) this.response.setHeader("connection", "close");
    this.destroy(new ApiError({ code: "REQUEST_TIMEOUT", message }));
  }

  private onSourceClosed(): void {
    if (this.destroyed || this.writableEnded || this.source.readableEnded || this.response.headersSent) return;
    this.stopTimers();
    logger.log(
      `The client closed ${this.request.method} ${(this.request.url ?? "").split("?")[0]} after ${this.receivedEncodedLength} bytes of its body.`,
    );
    this.destroy(
      new ApiError({ code: "MALFORMED_REQUEST", message: "The client closed the request before its body ended." }),
    );
  }

  private stopTimers(): void {
    clearTimeout(this.idle);
    clearTimeout(this.deadline);
  }
}
