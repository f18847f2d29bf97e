import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { sha256Hex } from "../src/auth/project-registry";
import { NO_RATE_LIMITS, throwawayGateways } from "./support/gateway";
import { until } from "./support/until";

/** What the gateway logs about URLs it was given: never their userinfo, never a secret of their query. */

const gateways = throwawayGateways();
const servers: Server[] = [];
afterEach(async () => {
  await gateways.closeAll();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe("secret redaction in logs", () => {
  it("logs a webhook's failed attempts without the URL's userinfo or query token", async () => {
    const attempts: (string | undefined)[] = [];
    const receiver = createServer((request, response) => {
      attempts.push(request.headers.authorization);
      request.resume().on("end", () => response.writeHead(500).end());
    });
    servers.push(receiver);
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const { port } = receiver.address() as AddressInfo;
    const url = `http://hook-user:p%40ss:w0rd@127.0.0.1:${port}/hooks?Token=tok-9f8e7d&event=1`;
    const key = `key-${randomBytes(16).toString("hex")}`;
    const raw: string[] = [];
    const app = await gateways.start({
      projects: {
        projects: [
          { id: "films", webhooks: [{ url, secret: "whsec_0123456789abcdef0123", events: ["upload.started"] }] },
        ],
        apiKeys: [{ name: "k", sha256: sha256Hex(key), projects: ["films"] }],
      },
      env: {
        ...NO_RATE_LIMITS,
        LOG_LEVEL: "info",
        WEBHOOK_ALLOW_PRIVATE_NETWORKS: "true",
        WEBHOOK_RETRY_BASE_SECONDS: "0.2",
        WEBHOOK_POLL_INTERVAL_SECONDS: "0.2",
      },
      logging: { destination: { write: (line: string) => void raw.push(line) } },
    });
    const started = await app.inject({
      method: "POST",
      url: "/api/projects/films/uploads/multipart?token=query-secret-1",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      payload: JSON.stringify({ partsNumber: 1, fileName: "a.mp4", contentLength: "10", mimeType: "video/mp4" }),
    });
    expect(started.statusCode).toBe(200);
    await until("a failed attempt logged", () => raw.some((line) => line.includes("Could not deliver")));
    // The receiver got the credentials (Basic auth from the userinfo): the URL works, only the log leaves them out.
    expect(attempts[0]).toMatch(/^Basic /);
    const log = raw.join("");
    expect(log).toContain(`[REDACTED]@127.0.0.1:${port}/hooks?Token=[REDACTED]&event=1`);
    expect(log).not.toMatch(/hook-user|p%40ss|w0rd|tok-9f8e7d|query-secret-1/);
  });
});
