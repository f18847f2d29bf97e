import { devSessionSchema, type DevSession } from "@upload-gateway/contract";

/**
 * The gateway a command talks to when none is named: `UPLOAD_GATEWAY_URL`, else the one `pnpm start` runs on this
 * machine (`http://127.0.0.1:$PORT`, the server's own default port 3000 when PORT is unset).
 */
export function defaultGatewayUrl(env: Record<string, string | undefined>): string {
  if (env.UPLOAD_GATEWAY_URL) return env.UPLOAD_GATEWAY_URL;
  return `http://127.0.0.1:${env.PORT || "3000"}`;
}

/** The dev session, or why there is none (a sentence for a usage error). */
export type DevSessionLookup = { session: DevSession } | { problem: string };

/**
 * Finds the dev project and key as the demo page does: `GET /api/dev-session`, answered only by a gateway in dev mode
 * (embedded store, loopback HOST, no PROJECTS_FILE) to a request for a loopback address.
 */
export async function findDevSession(server: string, fetchImpl: typeof fetch = fetch): Promise<DevSessionLookup> {
  const url = `${server.replace(/\/+$/, "")}/api/dev-session`;
  let reply: Response;
  try {
    reply = await fetchImpl(url, { signal: AbortSignal.timeout(10_000), headers: { accept: "application/json" } });
  } catch (error) {
    return { problem: `nothing answers at ${server} to read a dev key from (${(error as Error).message})` };
  }
  const body: unknown = await reply.json().catch(() => undefined);
  const result = (body as { result?: unknown } | undefined)?.result;
  const session = reply.status === 200 ? devSessionSchema.safeParse(result) : undefined;
  if (session?.success) return { session: session.data };
  return {
    problem:
      `${server} has no dev key to offer (GET /api/dev-session: HTTP ${reply.status}); ` +
      "it offers one only in dev mode (embedded store, loopback HOST, no PROJECTS_FILE) and to this machine",
  };
}
