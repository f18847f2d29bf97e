import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { defaultGatewayUrl, findDevSession } from "./dev-session";

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A loopback HTTP server answering every request with `status` and `body`; its base URL. */
async function answering(status: number, body: string): Promise<string> {
  server = createServer((request, reply) => {
    reply.writeHead(request.url === "/api/dev-session" ? status : 500, { "content-type": "application/json" });
    reply.end(body);
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("defaultGatewayUrl", () => {
  it("is UPLOAD_GATEWAY_URL, else loopback on PORT, else loopback on 3000", () => {
    const named = defaultGatewayUrl({ UPLOAD_GATEWAY_URL: "https://uploads.example.com", PORT: "4000" });
    expect(named).toBe("https://uploads.example.com");
    expect(defaultGatewayUrl({ PORT: "4000" })).toBe("http://127.0.0.1:4000");
    expect(defaultGatewayUrl({ PORT: "" })).toBe("http://127.0.0.1:3000");
    expect(defaultGatewayUrl({})).toBe("http://127.0.0.1:3000");
  });
});

describe("findDevSession", () => {
  it("reads the dev project and key from a gateway in dev mode (a trailing slash on the URL is fine)", async () => {
    const session = { projectId: "demo", apiKey: "dev_abc" };
    const url = await answering(200, JSON.stringify({ success: true, result: session }));
    expect(await findDevSession(`${url}/`)).toEqual({ session: { projectId: "demo", apiKey: "dev_abc" } });
  });

  it("says why there is no key: not in dev mode, an answer that is no dev session, nothing listening", async () => {
    const notDev = await answering(404, JSON.stringify({ success: false, errors: ["There is no dev session"] }));
    expect(await findDevSession(notDev)).toEqual({
      problem: expect.stringContaining("has no dev key to offer (GET /api/dev-session: HTTP 404)"),
    });
    server!.close();
    const garbage = await answering(200, "<html>not a gateway</html>");
    expect(await findDevSession(garbage)).toEqual({ problem: expect.stringContaining("HTTP 200") });
    server!.close();
    server = undefined;
    const down = await findDevSession(garbage);
    expect(down).toEqual({ problem: expect.stringMatching(/^nothing answers at http:\/\/127\.0\.0\.1:\d+ /) });
  });
});
