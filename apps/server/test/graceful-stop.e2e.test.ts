import { createHash, randomBytes } from "node:crypto";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startGateway, type TestGateway } from "./support/gateway";
import { call } from "./support/http";
import { rawRequest } from "./support/raw-http";
import { until } from "./support/until";

/**
 * A stopping gateway (SIGTERM, `app.close()`) lets the responses in flight finish, then closes their keep-alive
 * connections at once: without that, a connection still busy when the stop began stayed open for its keep-alive
 * timeout (72 s), and the stop waited that long.
 */

/** Well under the 72 s keep-alive timeout: a stop that waits for it fails here. */
const PROMPT_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const portOf = (gw: TestGateway) => (gw.app.getHttpServer().address() as { port: number }).port;

/** API calls go through `inject` (no socket): the connections at the stop are the ones each test makes for it. */
const api = (gw: TestGateway, method: "POST" | "PUT", path: string, body?: unknown) =>
  call(gw.app, method, `/api/projects/${gw.projectId}/uploads${path}`, { headers: gw.auth, ...(body ? { body } : {}) });

async function startOnePart(gw: TestGateway, size: number) {
  const started = (
    await api(gw, "POST", "/multipart", {
      partsNumber: 1,
      fileName: "clip.mp4",
      contentLength: String(size),
      mimeType: "video/mp4",
    })
  ).body;
  return {
    requestKey: started.result.requestKey as string,
    partUrl: new URL(started.result.presignedUrl[0].presignedUrl as string),
  };
}

/** Starts the gateway's stop; `done()` says whether it has ended. */
function stop(gw: TestGateway): { done: () => boolean } {
  let done = false;
  void gw.close().then(() => (done = true));
  return { done: () => done };
}

describe("a stopping gateway", () => {
  let gw: TestGateway | undefined;
  afterEach(async () => {
    await gw?.close().catch(() => undefined);
    gw = undefined;
  });

  it("finishes a download in flight, then closes its connection and stops, without waiting for the keep-alive timeout", async () => {
    gw = await startGateway({}, "local");
    const data = randomBytes(16 * 1024 * 1024);
    const { requestKey, partUrl } = await startOnePart(gw, data.length);
    const put = await fetch(partUrl, { method: "PUT", body: data });
    expect(put.status).toBe(200);
    await api(gw, "PUT", "/multipart-complete", {
      requestKey,
      parts: [{ partNumber: 1, eTag: put.headers.get("etag") }],
    });
    const download = new URL((await api(gw, "POST", `/success/${requestKey}`)).body.result.downloadPath as string);

    // A keep-alive GET read slowly: the reply is still being sent when the stop begins.
    const socket = connect(portOf(gw), "127.0.0.1");
    const received: Buffer[] = [];
    let slow = true;
    const firstBytes = new Promise<void>((resolve) => socket.once("data", () => resolve()));
    socket.on("data", (chunk: Buffer) => {
      received.push(chunk);
      if (slow) socket.pause();
    });
    let closed = false;
    socket.on("close", () => (closed = true));
    socket.write(`GET ${download.pathname}${download.search} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await firstBytes;

    const stopping = stop(gw);
    await sleep(300);
    // Read the rest at full speed: the server is to close the connection once the reply is out.
    slow = false;
    socket.resume();
    await until("the server closing the download's connection", () => closed, PROMPT_MS);
    await until("the stop", stopping.done, PROMPT_MS);
    gw = undefined;

    const reply = Buffer.concat(received);
    const headEnd = reply.indexOf("\r\n\r\n");
    expect(reply.subarray(0, headEnd).toString()).toMatch(/^HTTP\/1\.1 200 /);
    expect(
      createHash("md5")
        .update(reply.subarray(headEnd + 4))
        .digest("hex"),
    ).toBe(createHash("md5").update(data).digest("hex"));
  });

  it("stores a part whose body is still arriving when the stop begins, answers it on a closing connection, and stops", async () => {
    gw = await startGateway({}, "local");
    const data = randomBytes(256 * 1024);
    const { partUrl } = await startOnePart(gw, data.length);
    const head = `PUT ${partUrl.pathname}${partUrl.search} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${data.length}\r\n\r\n`;
    const half = data.length / 2;
    // The first half now, the rest 600 ms later: the stop begins in between.
    const replied = rawRequest(portOf(gw), Buffer.concat([Buffer.from(head), data.subarray(0, half)]), {
      trickle: { chunk: Buffer.alloc(0), everyMs: 600, count: 0 },
      tail: data.subarray(half),
      timeoutMs: PROMPT_MS,
    });
    await sleep(200);
    const stopping = stop(gw);

    const reply = await replied;
    expect(reply.status).toBe(200);
    expect(reply.headers.etag).toBe(`"${createHash("md5").update(data).digest("hex")}"`);
    expect(reply.headers.connection).toBe("close");
    expect(reply.closedByServer).toBe(true);
    await until("the stop", stopping.done, PROMPT_MS);
    gw = undefined;
  });
});
