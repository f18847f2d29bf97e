import type { IncomingMessage, ServerResponse } from "node:http";
import { Inject, Module, type OnModuleInit } from "@nestjs/common";
import { HttpAdapterHost } from "@nestjs/core";
import { ERROR_CODES, errorEnvelope } from "@upload-gateway/contract";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { httpPlatformOf } from "../http/http-platform";
import { sendReply, type PlatformReply } from "../http/platform-reply";
import { ROUTE_PREFIX } from "../tokens";

/** The methods answered: OPTIONS stays the app's (its CORS answers preflights); HEAD comes with GET on both. */
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

type ExpressHandler = (request: IncomingMessage & { originalUrl?: string }, response: ServerResponse) => void;
/** The part of an Express 5 application the routes are registered on. */
type ExpressRoutes = Record<Lowercase<(typeof METHODS)[number]>, (path: string, handler: ExpressHandler) => unknown>;

/**
 * Embedded only: an unknown route under the gateway's `{path}/api` answers the envelope's 404 `ROUTE_NOT_FOUND`, as the
 * standalone server's do (its app-wide filter), instead of the embedding app's own 404: clients of the API read
 * envelopes. Added once every controller's routes are (at module init, before Nest's not-found handler): Express tries
 * routes in the order they were added, so a catch-all added earlier would hide the routes after it, the app's too.
 */
@Module({})
export class ApiNotFoundModule implements OnModuleInit {
  constructor(
    @Inject(ROUTE_PREFIX) private readonly prefix: string,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onModuleInit(): void {
    const platform = httpPlatformOf(this.adapterHost);
    if (platform === "fastify") {
      const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
      const handler = (request: FastifyRequest, reply: FastifyReply) => notFound(request.method, request.url, reply);
      for (const url of [`${this.prefix}/api`, `${this.prefix}/api/*`])
        fastify.route({ method: [...METHODS], url, handler });
    } else if (platform === "express") {
      const express = this.adapterHost.httpAdapter.getInstance<ExpressRoutes>();
      const handler: ExpressHandler = (request, response) => {
        void notFound(request.method ?? "GET", request.originalUrl ?? request.url ?? "/", response);
      };
      for (const method of METHODS) {
        for (const path of [`${this.prefix}/api`, `${this.prefix}/api/*rest`])
          express[lowercase(method)](path, handler);
      }
    }
  }
}

function notFound(method: string, url: string, reply: PlatformReply): Promise<void> {
  const path = url.split("?")[0];
  const body = errorEnvelope([{ code: "ROUTE_NOT_FOUND", message: `Cannot ${method} ${path}` }]);
  return sendReply(reply, { status: ERROR_CODES.ROUTE_NOT_FOUND.status, body });
}

const lowercase = <M extends string>(method: M) => method.toLowerCase() as Lowercase<M>;
