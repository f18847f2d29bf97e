import type { NestFastifyApplication } from "@nestjs/platform-fastify";
import { afterEach, describe, expect, it } from "vitest";
import { throwawayGateways } from "./support/gateway";

/** /metrics as Prometheus scrapes it, moving with uploads through the API on the embedded store. */

const DEV_KEY = "dev_0123456789abcdef0123";
const auth = { authorization: `Bearer ${DEV_KEY}` };
const gateways = throwawayGateways();
afterEach(() => gateways.closeAll());

const gateway = (env: Record<string, string> = {}) => gateways.start({ env: { DEV_API_KEY: DEV_KEY, ...env } });

async function scrape(gw: NestFastifyApplication): Promise<string> {
  const reply = await gw.inject({ method: "GET", url: "/metrics" });
  expect(reply.statusCode).toBe(200);
  expect(reply.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
  return reply.body;
}

/** The value of one series, e.g. value(text, 'upload_gateway_uploads_started_total{project="demo"}'). */
function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

async function start(gw: NestFastifyApplication) {
  const reply = await gw.inject({
    method: "POST",
    url: "/api/projects/demo/uploads/multipart",
    headers: { ...auth, "content-type": "application/json" },
    payload: JSON.stringify({ partsNumber: 1, fileName: "a.mp4", contentLength: "5", mimeType: "video/mp4" }),
  });
  expect(reply.statusCode).toBe(200);
  return reply.json().result as { requestKey: string; presignedUrl: { presignedUrl: string }[] };
}

describe("/metrics", () => {
  it("counts uploads started, completed (once, with their bytes) and aborted by project, and times requests by route pattern", async () => {
    const gw = await gateway();
    const before = await scrape(gw);
    expect(before).toContain("# TYPE upload_gateway_uploads_expired_total counter");
    expect(before).toContain("process_cpu_seconds_total");

    const upload = await start(gw);
    const url = new URL(upload.presignedUrl[0]!.presignedUrl);
    const put = await gw.inject({
      method: "PUT",
      url: url.pathname + url.search,
      payload: "hello",
      headers: { "content-type": "application/octet-stream" },
    });
    expect(put.statusCode).toBe(200);
    const completeRequest = {
      method: "PUT" as const,
      url: "/api/projects/demo/uploads/multipart-complete",
      headers: { ...auth, "content-type": "application/json" },
      payload: JSON.stringify({ requestKey: upload.requestKey, parts: [{ partNumber: 1, eTag: put.headers.etag }] }),
    };
    const complete = await gw.inject(completeRequest);
    expect(complete.statusCode).toBe(200);
    // A complete sent again (its first reply lost) answers true again, but the upload completed once.
    const repeated = await gw.inject(completeRequest);
    expect(repeated.statusCode).toBe(200);
    const other = await start(gw);
    const abort = await gw.inject({
      method: "PUT",
      url: "/api/projects/demo/uploads/multipart-abort",
      headers: { ...auth, "content-type": "application/json" },
      payload: JSON.stringify({ requestKey: other.requestKey }),
    });
    expect(abort.statusCode).toBe(200);
    // A refused start counts nothing.
    await gw.inject({
      method: "POST",
      url: "/api/projects/demo/uploads/multipart",
      headers: { ...auth, "content-type": "application/json" },
      payload: "{}",
    });

    const after = await scrape(gw);
    expect(value(after, 'upload_gateway_uploads_started_total{project="demo"}')).toBe(2);
    expect(value(after, 'upload_gateway_uploads_completed_total{project="demo"}')).toBe(1);
    expect(value(after, 'upload_gateway_bytes_completed_total{project="demo"}')).toBe(5);
    expect(value(after, 'upload_gateway_uploads_aborted_total{project="demo"}')).toBe(1);
    expect(
      value(
        after,
        'upload_gateway_request_duration_seconds_count{route="/api/projects/:projectId/uploads/multipart",method="POST",status="200"}',
      ),
    ).toBe(2);
    expect(after).toMatch(
      /upload_gateway_request_duration_seconds_count\{route="\/api\/projects\/:projectId\/uploads\/multipart",method="POST",status="400"\} 1/,
    );
    // Route patterns only: no request key or signature ends up in a label.
    expect(after).not.toContain(upload.requestKey);
    expect(after).not.toContain("signature=");
    expect(
      value(
        after,
        'upload_gateway_storage_call_duration_seconds_count{operation="createMultipartUpload",outcome="ok"}',
      ),
    ).toBe(2);
  });

  it("needs the bearer token when METRICS_TOKEN is set", async () => {
    const token = "metrics-0123456789abcdef";
    const gw = await gateway({ METRICS_TOKEN: token });
    expect((await gw.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(401);
    expect(
      (await gw.inject({ method: "GET", url: "/metrics", headers: { authorization: "Bearer wrong-0123456789abcdef" } }))
        .statusCode,
    ).toBe(401);
    const ok = await gw.inject({ method: "GET", url: "/metrics", headers: { authorization: `Bearer ${token}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain("upload_gateway_uploads_started_total");
  });
});
