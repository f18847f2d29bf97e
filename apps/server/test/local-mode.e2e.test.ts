import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./support/gateway";
import { killServerProcesses, startServerProcess, type ServerProcess } from "./support/server-process";

// Each test starts the built server once or twice: seconds each on a loaded 2-core machine.
// A test option, not vi.setConfig, which does not reach a file that shares its worker with others (isolate: false).
const slow = { timeout: 120_000 };

/**
 * The zero-config start, as a user meets it: the built server with nothing configured but a data dir and a port,
 * on the embedded storage with the dev project and key.
 */

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

let dir: string;
let port: number;
let server: ServerProcess | undefined;
const devKey = `dev_${randomBytes(16).toString("hex")}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "gateway-local-"));
  port = await freePort();
});
afterEach(async () => {
  await server?.stop("SIGKILL");
  server = undefined;
  await killServerProcesses(); // one still starting when its test timed out
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const start = async (env: Record<string, string> = {}) =>
  (server = await startServerProcess({ LOCAL_STORAGE_DIR: dir, PORT: String(port), DEV_API_KEY: devKey, ...env }));

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(`http://127.0.0.1:${port}/api/projects/demo/uploads${path}`, {
    method,
    headers: { authorization: `Bearer ${devKey}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as any };
}

async function putPart(url: string, data: Uint8Array) {
  const response = await fetch(url, { method: "PUT", body: data });
  expect(response.status).toBe(200);
  return response.headers.get("etag")!;
}

/**
 * A part PUT over a raw socket: `declared` as its Content-Length (chunked when undefined), then `body`, written
 * only as far as the server lets it (it may answer, and close, before reading a refused body).
 */
function rawPut(url: string, body: Uint8Array, declared?: number) {
  return new Promise<{ status: number; connection: string | undefined; body: any }>((resolve, reject) => {
    const headers = declared === undefined ? {} : { "content-length": String(declared) };
    const req = request(new URL(url), { method: "PUT", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        req.destroy();
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({
          status: res.statusCode ?? 0,
          connection: res.headers.connection,
          body: text ? JSON.parse(text) : undefined,
        });
      });
    });
    req.on("error", reject);
    req.write(body, (error) => {
      if (!error && declared === undefined) req.end();
    });
  });
}

describe("zero-config start", slow, () => {
  it("prints the URL, the dev project and its key", async () => {
    const s = await start();
    expect(s.url).toBe(`http://127.0.0.1:${port}`);
    expect(s.output()).toContain("project:  demo");
    expect(s.output()).toContain(`API key:  ${devKey}`);
  });

  it("generates a dev key when none is given, and keeps it across restarts", async () => {
    const own = mkdtempSync(join(tmpdir(), "gateway-key-"));
    try {
      const env = { LOCAL_STORAGE_DIR: own, PORT: String(port) };
      server = await startServerProcess(env);
      const key = /API key: +(\S+)/.exec(server.output())?.[1];
      expect(key).toMatch(/^dev_[A-Za-z0-9_-]{32}$/);
      await server.stop();
      server = await startServerProcess(env);
      expect(server.output()).toContain(`API key:  ${key}`);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  it("keeps its data dir owner-only and its secrets 0600, and warns when the dir is readable by others", async () => {
    const own = join(mkdtempSync(join(tmpdir(), "gateway-modes-")), "data");
    try {
      const env = { LOCAL_STORAGE_DIR: own, PORT: String(port) };
      server = await startServerProcess(env);
      expect(statSync(own).mode & 0o777).toBe(0o700);
      for (const secret of readdirSync(own).filter((f) => statSync(join(own, f)).isFile())) {
        expect([secret, statSync(join(own, secret)).mode & 0o777]).toEqual([secret, 0o600]);
      }
      expect(server.output()).not.toContain("chmod 700");
      await server.stop();
      chmodSync(own, 0o755);
      server = await startServerProcess(env);
      expect(server.output()).toMatch(/data dir .* can be read by other users \(mode 0755\).*chmod 700/);
    } finally {
      rmSync(join(own, ".."), { recursive: true, force: true });
    }
  });

  it("hands the dev project and key to pages on a loopback host, uncached, and to no other host", async () => {
    await start();
    const session = await fetch(`http://127.0.0.1:${port}/api/dev-session`);
    expect(session.status).toBe(200);
    expect(session.headers.get("cache-control")).toBe("no-store");
    expect(await session.json()).toMatchObject({ success: true, result: { projectId: "demo", apiKey: devKey } });
    // A page whose own name was rebound to 127.0.0.1 sends its name as Host: it gets nothing.
    const rebound = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port, path: "/api/dev-session", headers: { host: `evil.example:${port}` } },
        (res) => {
          let body = "";
          res.on("data", (chunk: Buffer) => (body += chunk.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(rebound.status).toBe(404);
    expect(rebound.body).not.toContain(devKey);
  });

  it("refuses to start in S3 mode without a projects file, naming what is missing", async () => {
    await expect(startServerProcess({ STORAGE: "s3", S3_BUCKET: "b", PORT: String(port) })).rejects.toThrow(
      /PROJECTS_FILE: is required when STORAGE=s3/,
    );
    await expect(startServerProcess({ HOST: "0.0.0.0", PORT: String(port), LOCAL_STORAGE_DIR: dir })).rejects.toThrow(
      /PROJECTS_FILE: is required when HOST \(0\.0\.0\.0\) is not a loopback address/,
    );
  });

  it("prints one clean line per problem of a bad projects file: no stack trace, nothing twice, no Nest log", async () => {
    const file = join(dir, "bad-projects.json");
    writeFileSync(file, JSON.stringify({ projects: [{ id: "../x" }] }));
    const failure = await startServerProcess({ PROJECTS_FILE: file, PORT: String(port), LOCAL_STORAGE_DIR: dir }).then(
      () => expect.unreachable("the server started"),
      (error: Error) => error.message,
    );
    const output = failure
      .slice(failure.indexOf("\n") + 1)
      .trim()
      .split("\n");
    expect(output).toEqual([
      `Cannot start: PROJECTS_FILE ${file}: projects.0.id: must be 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
      `Cannot start: PROJECTS_FILE ${file}: apiKeys: Required`,
    ]);
  });

  it("warns, last before the banner, when S3 variables are set but the storage is local", async () => {
    const s = await start({ S3_ENDPOINT: "http://127.0.0.1:7480", S3_BUCKET: "videos" });
    const isWarning = (line: string) => line.startsWith("Warning: S3_BUCKET, S3_ENDPOINT are set but STORAGE is local");
    // The warning goes to stderr and the banner to stdout: two pipes, so the test may read them in either order.
    for (let i = 0; i < 100 && !s.output().split("\n").some(isWarning); i++)
      await new Promise((r) => setTimeout(r, 50));
    const lines = s.output().trimEnd().split("\n");
    expect(lines.filter(isWarning)).toHaveLength(1);
    // Trimmed again: when stderr's warning arrives after the banner's closing blank line, removing it leaves that line last.
    expect(
      lines
        .filter((line) => !isWarning(line))
        .join("\n")
        .trimEnd(),
    ).toMatch(/\n\n {2}Upload Gateway is running at [^\n]+(\n {2}\S[^\n]*)+$/);
  });

  it("completes the seed's 3-part upload with the printed key; the state survives a restart", async () => {
    await start();
    const data = randomBytes(10 * MiB + 1024);
    const started = await api("POST", "/multipart", {
      partsNumber: 3,
      fileName: "seed.mp4",
      contentLength: String(data.length),
      mimeType: "video/mp4",
    });
    expect(started.status).toBe(200);
    const { requestKey, presignedUrl } = started.body.result;
    const eTags = await Promise.all(
      presignedUrl.map((p: { partNumber: number; presignedUrl: string }) =>
        putPart(
          p.presignedUrl,
          data.subarray((p.partNumber - 1) * 5 * MiB, Math.min(p.partNumber * 5 * MiB, data.length)),
        ),
      ),
    );
    const done = await api("PUT", "/multipart-complete", {
      requestKey,
      parts: eTags.map((eTag, i) => ({ partNumber: i + 1, eTag })),
    });
    expect(done.body).toMatchObject({ success: true, result: true });

    await server!.stop();
    await start();
    const state = await api("GET", `/${requestKey}`);
    expect(state.body.result).toMatchObject({ state: "completed", fileName: "seed.mp4" });
    const link = await api("POST", `/success/${requestKey}`);
    const download = await fetch(link.body.result.downloadPath);
    expect(download.headers.get("content-disposition")).toContain("seed.mp4");
    expect(sha256(new Uint8Array(await download.arrayBuffer()))).toBe(sha256(data));
  });

  it("answers /docs, /api/openapi.json, /health/live and /health/ready", async () => {
    await start();
    const base = `http://127.0.0.1:${port}`;
    const docs = await fetch(`${base}/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain("swagger-ui-bundle.js");
    expect((await fetch(`${base}/docs/assets/swagger-ui-bundle.js`)).status).toBe(200);
    // Relative to the page, so that the docs work under a path prefix.
    expect(await (await fetch(`${base}/docs/assets/docs-init.js`)).text()).toContain(
      'new URL("api/openapi.json", document.baseURI)',
    );
    const openapi = (await (await fetch(`${base}/api/openapi.json`)).json()) as any;
    expect(openapi.openapi).toMatch(/^3\./);
    const startOp = openapi.paths["/api/projects/{projectId}/uploads/multipart"].post;
    expect(startOp.security).toEqual([{ apiKey: [] }]);
    const idempotencyKey = startOp.parameters.find(
      (p: { in: string; name: string }) => p.in === "header" && p.name === "idempotency-key",
    );
    expect(idempotencyKey).toMatchObject({ schema: { type: "string" } });
    expect(idempotencyKey.required).not.toBe(true);
    expect(startOp.requestBody.content["application/json"].example).toMatchObject({
      partsNumber: 3,
      mimeType: "video/mp4",
    });
    expect(Object.keys(startOp.responses)).toEqual(
      expect.arrayContaining(["200", "400", "401", "403", "404", "422", "500", "503"]),
    );
    expect(JSON.stringify(openapi)).not.toContain("exclusiveMinimum");
    for (const path of ["/health/live", "/health/ready"]) {
      const reply = await fetch(`${base}${path}`);
      expect(reply.status).toBe(200);
      expect(await reply.json()).toMatchObject({ success: true, result: { status: "ok" } });
    }
    expect((await fetch(`${base}/`)).headers.get("content-type")).toContain("text/html");
  });
});

describe("crash safety", slow, () => {
  it("after a SIGKILL mid-part, the half-written part is not listed; the upload resumes and completes intact", async () => {
    await start();
    const data = randomBytes(10 * MiB + 1024);
    const parts = [data.subarray(0, 5 * MiB), data.subarray(5 * MiB, 10 * MiB), data.subarray(10 * MiB)];
    const started = await api("POST", "/multipart", {
      partsNumber: 3,
      fileName: "crash.mp4",
      contentLength: String(data.length),
      mimeType: "video/mp4",
    });
    const { requestKey, uploadId, presignedUrl } = started.body.result;
    const first = await putPart(presignedUrl[0].presignedUrl, parts[0]!);

    // Send half of part 2, and kill the server once its bytes are landing on disk.
    const url = new URL(presignedUrl[1].presignedUrl);
    const req = request(url, { method: "PUT", headers: { "content-length": String(parts[1]!.length) } });
    req.on("error", () => {}); // the connection dies with the server
    req.write(parts[1]!.subarray(0, 2 * MiB));
    // A part being received is written in tmp/ and renamed into the upload only once whole.
    const receiving = () =>
      existsSync(join(dir, "tmp")) && readdirSync(join(dir, "tmp")).some((f) => statSync(join(dir, "tmp", f)).size > 0);
    for (let i = 0; i < 100 && !receiving(); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(receiving()).toBe(true);
    expect(readdirSync(join(dir, "multipart", uploadId)).sort()).toEqual(["part-00001", "upload.json"]);
    await server!.stop("SIGKILL");
    req.destroy();

    await start();
    const resumed = await api("POST", "/multipart-resume", { requestKey });
    expect(resumed.status).toBe(200);
    expect(resumed.body.result.uploadedParts).toEqual([{ partNumber: 1, eTag: first, size: 5 * MiB }]);
    expect(resumed.body.result.presignedUrl.map((p: { partNumber: number }) => p.partNumber)).toEqual([2, 3]);

    const rest = await Promise.all(
      resumed.body.result.presignedUrl.map((p: { partNumber: number; presignedUrl: string }) =>
        putPart(p.presignedUrl, parts[p.partNumber - 1]!),
      ),
    );
    const done = await api("PUT", "/multipart-complete", {
      requestKey,
      parts: [first, ...rest].map((eTag, i) => ({ partNumber: i + 1, eTag })),
    });
    expect(done.status).toBe(200);
    const link = await api("POST", `/success/${requestKey}`);
    const download = await fetch(link.body.result.downloadPath);
    expect(sha256(new Uint8Array(await download.arrayBuffer()))).toBe(sha256(data));
  });

  it("refuses part PUTs of another size than planned, declared or streamed, in the envelope, and keeps nothing", async () => {
    await start();
    const started = await api("POST", "/multipart", {
      partsNumber: 1,
      fileName: "ten.bin",
      contentLength: "10",
      mimeType: "application/octet-stream",
    });
    const { requestKey, uploadId, presignedUrl } = started.body.result;
    const url: string = presignedUrl[0].presignedUrl;
    const code = (reply: { body: any }) => reply.body?.errorDetails?.[0]?.code;

    // 200 MiB declared for a 10-byte part: refused at once, before the body is read, and the connection closed.
    const huge = await rawPut(url, randomBytes(64 * 1024), 200 * MiB);
    expect([huge.status, code(huge), huge.connection]).toEqual([413, "PAYLOAD_TOO_LARGE", "close"]);
    expect(huge.body).toMatchObject({ success: false, statusCode: 413, result: null });
    const short = await rawPut(url, randomBytes(5), 5);
    expect([short.status, code(short), short.connection]).toEqual([400, "PART_SIZE_MISMATCH", "close"]);
    // Chunked bodies declare nothing: they are counted as they arrive.
    const streamedLong = await rawPut(url, randomBytes(MiB));
    expect([streamedLong.status, code(streamedLong)]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    const streamedShort = await rawPut(url, randomBytes(9));
    expect([streamedShort.status, code(streamedShort)]).toEqual([400, "PART_SIZE_MISMATCH"]);
    expect(streamedShort.body.errors[0]).toContain("9 bytes");

    // Nothing was kept: no part, no temporary file.
    expect(readdirSync(join(dir, "multipart", uploadId))).toEqual(["upload.json"]);
    expect(readdirSync(join(dir, "tmp"), { recursive: true }).filter((f) => !String(f).startsWith("."))).toEqual([]);
    expect((await api("GET", `/${requestKey}`)).body.result.uploadedParts).toEqual([]);

    // The planned 10 bytes, chunked or not, are stored and complete.
    const exact = randomBytes(10);
    expect((await rawPut(url, exact)).status).toBe(200);
    const eTag = await putPart(url, exact);
    const done = await api("PUT", "/multipart-complete", { requestKey, parts: [{ partNumber: 1, eTag }] });
    expect(done.status).toBe(200);
  });

  it("refuses a part declared larger than 5 GiB before writing it", async () => {
    await start();
    const started = await api("POST", "/multipart", {
      partsNumber: 2,
      fileName: "huge.mp4",
      contentLength: String(6 * 1024 ** 3),
      mimeType: "video/mp4",
    });
    const url = new URL(started.body.result.presignedUrl[0].presignedUrl);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(url, { method: "PUT", headers: { "content-length": String(5 * 1024 ** 3 + 1) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.write(Buffer.alloc(1024));
    });
    expect(status).toBe(413);
    const state = await api("GET", `/${started.body.result.requestKey}`);
    expect(state.body.result.uploadedParts).toEqual([]);
  });
});
