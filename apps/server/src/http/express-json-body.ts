import type { IncomingMessage, ServerResponse } from "node:http";
import { Inject, Injectable } from "@nestjs/common";
import { HttpAdapterHost } from "@nestjs/core";
import { errorEnvelope, type ErrorProblem } from "@upload-gateway/contract";
import type { AppConfig } from "../config/app-config";
import { APP_CONFIG, ROUTE_PREFIX } from "../tokens";
import { hasBody } from "./body-timeouts";
import { httpPlatformOf } from "./http-platform";
import { sendReply } from "./platform-reply";

type Middleware = (request: IncomingMessage & { body?: unknown }, response: ServerResponse, next: () => void) => void;

/**
 * On Express, the gateway's API reads its JSON bodies itself, before the parser Nest installs for the whole app: that
 * one takes 100 KB (a complete of 10,000 parts is about 700 KB) and answers its failures as Express's HTML error
 * pages. This one takes what the standalone server takes (`BODY_LIMIT_BYTES`, 2 MiB) and answers malformed, oversized
 * or non-JSON (415) bodies in the envelope. The app's own routes keep the app's parser: Nest's skips a body already read.
 * Registered when Nest creates the module, which is before `init()` installs Nest's parsers.
 */
@Injectable()
export class ExpressJsonBody {
  constructor(
    @Inject(HttpAdapterHost) adapterHost: HttpAdapterHost,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(ROUTE_PREFIX) prefix: string,
  ) {
    if (httpPlatformOf(adapterHost) !== "express") return;
    const app = adapterHost.httpAdapter.getInstance<{ use(path: string, middleware: Middleware): unknown }>();
    app.use(`${prefix}/api`, jsonBody(config.BODY_LIMIT_BYTES));
  }
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

function jsonBody(limit: number): Middleware {
  return (request, response, next) => {
    if (!hasBody(request.headers)) return next();
    const type = request.headers["content-type"] ?? "";
    const length = request.headers["content-length"];
    const refuse = (problem: ErrorProblem) => {
      // The rest of the body is not read: the connection cannot carry another request.
      request.unpipe();
      request.pause();
      const envelope = errorEnvelope([problem]);
      void sendReply(response, { status: envelope.statusCode, headers: { connection: "close" }, body: envelope });
    };
    // The API speaks JSON only, as the standalone server's does: a form or text body is refused, not parsed by the
    // app's other parsers into something the contract might half accept.
    if (!JSON_TYPE.test(type))
      return refuse({
        code: "UNSUPPORTED_MEDIA_TYPE",
        message: "The request body must be JSON (Content-Type: application/json).",
      });
    const tooLarge = { code: "PAYLOAD_TOO_LARGE", message: `The request body is larger than ${limit} bytes.` } as const;
    if (length !== undefined && Number(length) > limit) return refuse(tooLarge);
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received <= limit) return void chunks.push(chunk);
      request.off("data", onData).off("end", onEnd);
      refuse(tooLarge);
    };
    const onEnd = () => {
      const text = Buffer.concat(chunks).toString("utf8");
      try {
        request.body = JSON.parse(text);
      } catch (error) {
        return refuse({
          code: "MALFORMED_REQUEST",
          message: `The request body is not valid JSON: ${(error as Error).message}`,
        });
      }
      next();
    };
    request.on("data", onData).on("end", onEnd);
    // A client gone mid-body: nothing to answer; its stream's error must not go unhandled.
    request.on("error", () => undefined);
  };
}
