import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Authenticator } from "../../auth/authenticator";
import { rateLimitIdentity } from "../../auth/principal";
import { ApiError } from "../../errors/api-error";
import { requestPath } from "../../http/request-path";
import { MemoryRateLimitStore } from "./memory-rate-limit.store";
import type { RateLimitStore, Verdict } from "./rate-limit-store.port";

export interface RateLimitPolicy {
  /** Requests per minute per API key and project (`RATE_LIMIT_PER_MINUTE`); 0 turns the key limit off. */
  perKeyPerMinute: number;
  /** Requests per minute per client IP without a valid key (`RATE_LIMIT_PER_IP_PER_MINUTE`); 0 turns it off. */
  perIpPerMinute: number;
  /** Who holds which key or token, and each project's own `rateLimitPerMinute`. */
  authenticator: Authenticator | null;
  /** Where counts are kept (rate-limit-store.factory.ts); this process's memory when omitted. Closed with the app. */
  store?: RateLimitStore;
}

/**
 * Limits every API route (`/api/...`, under the gateway's path if it has one; in any spelling: `/%61pi`, `//api`,
 * `/API` are counted too, see request-path.ts) before the route's guard runs: a request with a valid key counts against that
 * key on that project (the project's `rateLimitPerMinute`, else the default), one with a valid upload token against
 * the token's owner on that project (its subject, else the key that minted it); anything else (no key, a
 * wrong key or token, one for another project) counts against the client's IP, so guessing keys or hammering with garbage is throttled
 * per address. Over the limit: 429 RATE_LIMITED in the envelope with `Retry-After`. The store keeps the counts: in
 * this process (with N replicas behind a balancer the effective limit is up to N times the configured one), or in
 * Redis shared by all replicas; a store that fails lets requests through uncounted.
 */
export function registerRateLimits(fastify: FastifyInstance, policy: RateLimitPolicy): void {
  const store = policy.store ?? new MemoryRateLimitStore();
  fastify.addHook("onClose", () => store.close());
  fastify.addHook("onRequest", async (request, reply) => {
    // CORS preflights carry no key and must not use up the page's budget; health, docs and the page are not the API.
    if (request.method === "OPTIONS" || requestPath(request).area !== "api") return;
    const [id, perMinute] = await bucketOf(request, policy);
    if (perMinute <= 0) return;
    const verdict = await store.take(id, 1, perMinute, perMinute);
    if (!verdict.counted) return;
    setRateLimitHeaders(reply, verdict);
    if (verdict.allowed) return;
    const error = new ApiError({
      code: "RATE_LIMITED",
      message: `Too many requests: at most ${verdict.limit} a minute ${id.startsWith("ip:") ? "from one address without a valid API key" : "for this API key on this project"}; retry after ${verdict.retryAfterSeconds} s.`,
    });
    await reply
      .status(error.status)
      .header("retry-after", String(verdict.retryAfterSeconds))
      .header("content-type", "application/json; charset=utf-8")
      .send(error.toEnvelope());
  });
}

async function bucketOf(request: FastifyRequest, policy: RateLimitPolicy): Promise<[string, number]> {
  const projectId = (request.params as { projectId?: unknown } | undefined)?.projectId;
  if (policy.authenticator && typeof projectId === "string" && request.headers.authorization !== undefined) {
    // The guard reuses this decision: a token is verified once per request.
    const principal = await policy.authenticator.authenticateRequest(request, projectId).catch(() => undefined);
    if (principal) {
      return [
        `${rateLimitIdentity(principal)}\n${projectId}`,
        principal.project.rateLimitPerMinute ?? policy.perKeyPerMinute,
      ];
    }
  }
  return [`ip:${request.ip}`, policy.perIpPerMinute];
}

/** The IETF draft's RateLimit-* headers, so clients can pace themselves before they meet a 429. */
function setRateLimitHeaders(reply: FastifyReply, verdict: Verdict): void {
  void reply
    .header("ratelimit-limit", String(verdict.limit))
    .header("ratelimit-remaining", String(verdict.remaining))
    .header("ratelimit-reset", String(verdict.resetSeconds));
}
