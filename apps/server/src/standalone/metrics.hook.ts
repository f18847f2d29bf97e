import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { routeOf } from "../observability/access-log";
import type { GatewayMetrics } from "../observability/metrics";

/**
 * Times every request by route pattern (never the raw URL: one series per route, not per upload) and serves
 * `GET /metrics`, behind `Authorization: Bearer <token>` when a token is configured.
 */
export function registerMetrics(fastify: FastifyInstance, metrics: GatewayMetrics, token: string | undefined): void {
  fastify.addHook("onResponse", (request, reply, done) => {
    const route = routeOf(request);
    const status = reply.statusCode;
    metrics.requestDuration.observe(
      { route, method: request.method, status: String(status) },
      reply.elapsedTime / 1000,
    );
    done();
  });
  const expected = token ? Buffer.from(`Bearer ${token}`) : undefined;
  fastify.get("/metrics", async (request, reply) => {
    if (expected) {
      const given = Buffer.from(request.headers.authorization ?? "");
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return reply.status(401).header("www-authenticate", 'Bearer realm="metrics"').send("Unauthorized\n");
      }
    }
    return reply
      .header("content-type", metrics.registry.contentType)
      .header("cache-control", "no-store")
      .send(await metrics.registry.metrics());
  });
}
