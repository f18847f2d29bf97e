import { Controller, Header, Inject, Optional, Req } from "@nestjs/common";
import { TsRestHandler, tsRestHandler } from "@ts-rest/nest";
import { devContract, errorEnvelope, ok } from "@upload-gateway/contract";
import type { FastifyRequest } from "fastify";
import type { DevAccess } from "../../auth/dev-access";
import { DEV_ACCESS } from "../../tokens";
import { isLoopback } from "../../config/app-config";

const NOT_DEV_MODE =
  "There is no dev session: the server is not in dev mode (embedded storage on a loopback HOST, no PROJECTS_FILE).";

/**
 * Hands the dev project and key to the demo page, so that it works on a developer's machine without typing anything.
 * Only in dev mode, where the key is printed at start anyway, and only when the request names a loopback host: a web
 * page elsewhere that rebinds its own name to 127.0.0.1 cannot read the key through it.
 */
@Controller()
export class DevSessionController {
  constructor(@Optional() @Inject(DEV_ACCESS) private readonly dev: DevAccess | null) {}

  @TsRestHandler(devContract)
  // A key must not linger in caches. (Below @TsRestHandler, so that it is applied first and copied to the route.)
  @Header("cache-control", "no-store")
  handle(@Req() request: FastifyRequest) {
    return tsRestHandler(devContract, {
      session: () => {
        const dev = this.dev;
        // `request.host` is the Host header, or X-Forwarded-Host when it comes from a trusted proxy (TRUST_PROXY):
        // behind a proxy, the name the browser asked for is the one that matters.
        if (!dev || !isLoopback(hostName(request.host))) {
          return Promise.resolve({
            status: 404 as const,
            body: errorEnvelope([{ code: "ROUTE_NOT_FOUND", message: NOT_DEV_MODE }]),
          });
        }
        return Promise.resolve({ status: 200 as const, body: ok({ projectId: dev.projectId, apiKey: dev.apiKey }) });
      },
    });
  }
}

/** The host name of a Host header, without its port: `127.0.0.1:3000` → `127.0.0.1`, `[::1]:3000` → `::1`. */
export function hostName(host: string | undefined): string {
  if (!host) return "";
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (bracketed) return bracketed[1]!;
  return host.replace(/:\d+$/, "").toLowerCase();
}
