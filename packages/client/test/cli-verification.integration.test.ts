import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errorEnvelope, ok, VERIFICATION_EXAMPLES, type Verification } from "@upload-gateway/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The built CLI against a gateway that checks content, as its replies are specified (the contract's envelopes over
 * HTTP): a small file goes up with one PUT and `POST /success` answers the check's verdict. The project in the path
 * picks the verdict: `passes`, `pending-then-passes` (VERIFICATION_PENDING once, with Retry-After) or `refuses`.
 */

const CLI = join(__dirname, "..", "dist", "cli.js");
const PASSED: Verification = VERIFICATION_EXAMPLES.passed;
const FAILED: Verification = VERIFICATION_EXAMPLES.failed;
const REFUSAL = "The stored file failed the content check: declared video/mp4, found an HTML page (text/html).";

let server: Server;
let baseUrl: string;
let dir: string;
let file: string;
const successCalls: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cli-verification-"));
  file = join(dir, "clip.mp4");
  writeFileSync(file, Buffer.alloc(1024, 7));
  server = createServer((request, response) => {
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { "content-type": "application/json", ...headers });
      response.end(JSON.stringify(body));
    };
    request.resume();
    request.on("end", () => {
      const url = new URL(request.url ?? "/", baseUrl);
      const [, , , project, , route, key] = url.pathname.split("/"); // /api/projects/{project}/uploads/{route}/{key}
      if (request.method === "PUT" && url.pathname === "/store/k1") return reply(200, {}, { etag: '"e1"' });
      if (request.method === "POST" && route === "url") {
        const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
        const started = { url: `${baseUrl}/store/k1`, headers: {}, requestKey: "k1", contentLength: "1024", expiresAt };
        return reply(201, ok(started, 201));
      }
      if (request.method === "POST" && route === "success" && key === "k1") {
        successCalls.push(project!);
        const link = { downloadPath: `${baseUrl}/store/k1`, expiresAt: new Date().toISOString() };
        if (project === "refuses") return reply(422, errorEnvelope([{ code: "CONTENT_REJECTED", message: REFUSAL }]));
        const waited = successCalls.filter((p) => p === project).length > 1;
        if (project === "pending-then-passes" && !waited) {
          return reply(409, errorEnvelope([{ code: "VERIFICATION_PENDING" }]), { "retry-after": "0" });
        }
        return reply(200, ok({ ...link, verification: PASSED }));
      }
      if (request.method === "GET" && route === "k1")
        return reply(200, ok({ state: "rejected", verification: FAILED }));
      reply(404, errorEnvelope([{ code: "UPLOAD_NOT_FOUND" }]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

async function cli(project: string, ...flags: string[]) {
  const args = ["upload", file, "--server", baseUrl, "--project", project, "--key", "k", ...flags];
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? "", XDG_STATE_HOME: dir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { code, stdout, stderr };
}

describe("upload-gateway CLI and the content check", () => {
  it("says what the gateway verified: type, duration, resolution, codecs", async () => {
    const run = await cli("passes");
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("verified: video/mp4, 8:34, 1920×1080, h264/aac\n");
  });

  it("--json carries verification, after waiting out VERIFICATION_PENDING", async () => {
    const run = await cli("pending-then-passes", "--json");
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ requestKey: "k1", verification: PASSED });
    expect(successCalls.filter((p) => p === "pending-then-passes")).toHaveLength(2);
  });

  it("a refused file exits 4 with the reason in plain words; --json prints it as one line", async () => {
    const human = await cli("refuses");
    expect(human.code).toBe(4);
    expect(human.stderr).toContain(
      "clip.mp4 was refused by the gateway's content check: declared video/mp4, found an HTML page (text/html)\n",
    );
    expect(human.stderr).toContain("requestKey: k1");
    expect(human.stderr).not.toContain("to continue");
    const json = await cli("refuses", "--json");
    expect(json.code).toBe(4);
    expect(JSON.parse(json.stdout.trim())).toEqual({
      rejected: true,
      requestKey: "k1",
      reason: FAILED.reason,
      verification: FAILED,
      server: baseUrl,
      projectId: "refuses",
    });
    // Refused once each: not retried.
    expect(successCalls.filter((p) => p === "refuses")).toHaveLength(2);
  });
});
