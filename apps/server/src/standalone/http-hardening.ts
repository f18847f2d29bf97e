import type { Server } from "node:http";
import { errorEnvelope } from "@upload-gateway/contract";
import type { FastifyHttpOptions, FastifyInstance } from "fastify";
import type { AppConfig } from "../config/app-config";
import { hasBody, registerBodyTimeouts } from "../http/body-timeouts";
import { answerClientError, answerFrameworkError } from "./client-error";
import { honourConnectionClose } from "./connection-close";
import { registerConnectionDrain } from "./connection-drain";
import { registerMethodNotAllowed } from "./method-not-allowed";

/**
 * Path parameters up to this long reach the contract's schemas, which refuse what is too long naming the field;
 * Fastify's default (100) would refuse a long request key before any schema sees it.
 */
const MAX_PARAM_LENGTH = 2048;

/**
 * The options of the Fastify instance: limits and timeouts of the HTTP server, and envelope replies for what Node
 * and Fastify refuse before any route runs.
 */
export function httpServerOptions(config: AppConfig): FastifyHttpOptions<Server> {
  const headersTimeout = config.HEADERS_TIMEOUT_SECONDS * 1000;
  return {
    bodyLimit: config.BODY_LIMIT_BYTES,
    // X-Forwarded-* headers are believed only from the proxies the operator names: anyone else could forge them.
    trustProxy: config.TRUST_PROXY,
    keepAliveTimeout: config.KEEP_ALIVE_TIMEOUT_SECONDS * 1000,
    // Node's whole-request timeout would cut a 5 GiB part PUT too: bodies have their own timeouts (body-timeouts.ts).
    requestTimeout: 0,
    http: {
      // Node answers an HTTP/1.1 request without a Host header itself, with a bare 400: the hook below answers it
      // with the envelope instead.
      requireHostHeader: false,
      headersTimeout,
      // Node checks the headers timeout of open connections at this interval (30 s by default, too coarse for it).
      connectionsCheckingInterval: Math.min(1000, Math.max(50, headersTimeout / 4)),
    },
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
  };
}

/**
 * What the HTTP layer enforces before a request reaches a handler: a client's `Connection: close` honoured, JSON-only
 * bodies, empty bodies accepted whatever their type, 405 for a known path's other methods, body timeouts, keep-alive
 * connections closed as soon as they are idle once the server stops. Registered on the root instance before any route.
 */
export function registerHttpHardening(app: FastifyInstance, config: AppConfig): void {
  // The API speaks JSON only: without parsers for text and forms, other bodies get a clear 415. (Nest's form parser
  // is never registered: the app is created with `bodyParser: false`, leaving Fastify's JSON parser, which refuses
  // `__proto__` and `constructor.prototype` keys.)
  app.removeContentTypeParser("text/plain");
  app.addHook("onRequest", async (request, reply) => {
    honourConnectionClose(request, reply);
    if (request.raw.httpVersion !== "1.1" || request.headers.host !== undefined) return;
    const envelope = errorEnvelope([
      { code: "MALFORMED_REQUEST", message: "An HTTP/1.1 request must have a Host header." },
    ]);
    return reply
      .status(400)
      .header("connection", "close")
      .header("content-type", "application/json; charset=utf-8")
      .send(envelope);
  });
  app.addHook("preParsing", (request, _reply, payload, done) => {
    // An empty body has no type. Many clients send `Content-Type: application/json` on every request; without this,
    // a bodyless call would fail to parse "nothing" as JSON. The store's streamed routes keep it: a single PUT's
    // signature binds the Content-Type, also of an empty file.
    const streamed = request.routeOptions.config?.streamedBody === true;
    if (!streamed && !hasBody(request.headers)) {
      delete request.raw.headers["content-type"];
    }
    done(null, payload);
  });
  registerBodyTimeouts(app, {
    idleMs: config.BODY_IDLE_TIMEOUT_SECONDS * 1000,
    totalMs: config.REQUEST_BODY_TIMEOUT_SECONDS * 1000,
  });
  registerMethodNotAllowed(app);
  registerConnectionDrain(app);
  app.addHook("onSend", (request, reply, payload, done) => {
    // A reply sent before the body was read (a refused part, an unknown route): the rest of the body would have to
    // be read and discarded before the connection could carry another request. Close it instead.
    if (request.raw.complete === false) void reply.header("connection", "close");
    done(null, payload);
  });
}
