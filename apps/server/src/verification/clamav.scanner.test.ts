import { randomBytes } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EICAR, EICAR_SIGNATURE, startClamd, type Clamd } from "../../test/support/clamd";
import { bufferByteSource, type ByteSource } from "./byte-source";
import { clamavScanner, parseAnswer } from "./clamav.scanner";

/** A source that records the largest read asked of it: a scan must never ask for the whole object at once. */
function recording(bytes: Uint8Array): { source: ByteSource; largestRead: () => number } {
  const inner = bufferByteSource(bytes);
  let largest = 0;
  return {
    largestRead: () => largest,
    source: {
      size: inner.size,
      read: (offset, length) => {
        largest = Math.max(largest, length);
        return inner.read(offset, length);
      },
    },
  };
}

describe("ClamAV scanner against Debian's clamd", () => {
  let clamd: Clamd;
  beforeAll(async () => {
    clamd = await startClamd();
  }, 300_000);
  afterAll(() => clamd?.stop());

  it("finds the EICAR test file infected, sent in chunks smaller than it", async () => {
    const scanner = clamavScanner({ host: clamd.host, port: clamd.port, chunkBytes: 16 });
    expect(scanner.name).toBe("clamav");
    expect(await scanner.scan(bufferByteSource(EICAR))).toEqual({
      verdict: "infected",
      signature: `${EICAR_SIGNATURE}.UNOFFICIAL`,
    });
  });

  it("finds a clean file clean, streamed by ranged reads of at most a chunk", async () => {
    const { source, largestRead } = recording(randomBytes(900 * 1024));
    const scanner = clamavScanner({ host: clamd.host, port: clamd.port, chunkBytes: 64 * 1024 });
    expect(await scanner.scan(source)).toEqual({ verdict: "clean" });
    expect(largestRead()).toBe(64 * 1024);
  });

  it("scans several objects at once, each with its own verdict", async () => {
    const scanner = clamavScanner({ host: clamd.host, port: clamd.port });
    const verdicts = await Promise.all(
      [EICAR, randomBytes(1000), EICAR, Buffer.from("hello")].map((b) => scanner.scan(bufferByteSource(b))),
    );
    expect(verdicts.map((v) => v.verdict)).toEqual(["infected", "clean", "infected", "clean"]);
  });

  it("an object over clamd's StreamMaxLength: clamd's size-limit error, never clean", async () => {
    // The scanner told a larger limit than clamd's: clamd itself cuts the stream and says why.
    const scanner = clamavScanner({ host: clamd.host, port: clamd.port, maxStreamBytes: 64 * 1024 * 1024 });
    const result = await scanner.scan(bufferByteSource(randomBytes(clamd.streamMaxBytes + 512 * 1024)));
    expect(result.verdict).toBe("error");
    // clamd answers, then closes on the bytes still coming: which the scanner sees first is up to the network.
    expect([
      "clamd answered: INSTREAM size limit exceeded.",
      expect.stringMatching(/closed the connection with \d+ of the object's \d+ bytes sent .* StreamMaxLength/),
    ]).toContainEqual(result.message);
  });

  it("an object over the configured limit is not sent at all", async () => {
    const { source, largestRead } = recording(randomBytes(2000));
    const scanner = clamavScanner({ host: clamd.host, port: clamd.port, maxStreamBytes: 1000 });
    const result = await scanner.scan(source);
    expect(result).toMatchObject({
      verdict: "error",
      message: expect.stringContaining("StreamMaxLength (1000 bytes)") as string,
    });
    expect(largestRead()).toBe(0);
  });

  it("a store read failing mid-scan is an error verdict naming it", async () => {
    const failing: ByteSource = { size: 5000, read: () => Promise.reject(new Error("store unavailable")) };
    const scanner = clamavScanner({ host: clamd.host, port: clamd.port });
    expect(await scanner.scan(failing)).toEqual({ verdict: "error", message: "store unavailable" });
  });
});

describe("ClamAV scanner: failures without clamd", () => {
  let silent: Server;
  let silentPort: number;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // Accepts, reads everything, never answers: a clamd that hangs.
    silent = createServer((socket) => {
      sockets.push(socket);
      socket.resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    silentPort = (silent.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it("a clamd that does not answer: an error verdict at the timeout", async () => {
    const scanner = clamavScanner({ host: "127.0.0.1", port: silentPort, timeoutMs: 300 });
    const result = await scanner.scan(bufferByteSource(EICAR));
    expect(result).toMatchObject({
      verdict: "error",
      message: expect.stringContaining("did not answer within 300 ms") as string,
    });
  });

  it("a clamd that resets mid-stream without answering: an error verdict naming the close, not a bare EPIPE", async () => {
    const resetting = createServer((socket) => {
      let received = 0;
      socket.on("data", (data: Buffer) => {
        received += data.length;
        if (received >= 64 * 1024) socket.resetAndDestroy();
      });
    });
    await new Promise<void>((resolve) => resetting.listen(0, "127.0.0.1", resolve));
    const port = (resetting.address() as { port: number }).port;
    try {
      // Larger than the loopback's socket buffers, so a write is refused rather than the answer found missing.
      const result = await clamavScanner({ host: "127.0.0.1", port }).scan(bufferByteSource(Buffer.alloc(24 << 20)));
      expect(result).toMatchObject({
        verdict: "error",
        message: expect.stringMatching(
          /^clamd at 127\.0\.0\.1:\d+ closed the connection with \d+ of the object's 25165824 bytes sent \((EPIPE|ECONNRESET)\)/,
        ) as string,
      });
    } finally {
      await new Promise((resolve) => resetting.close(resolve));
    }
  });

  it("nothing listening: an error verdict saying clamd is unreachable", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await clamavScanner({ host: "127.0.0.1", port }).scan(bufferByteSource(EICAR));
    expect(result).toMatchObject({
      verdict: "error",
      message: expect.stringMatching(/unreachable: .*ECONNREFUSED/) as string,
    });
  });

  it("reads clamd's answers", () => {
    expect(parseAnswer("stream: OK")).toEqual({ verdict: "clean" });
    expect(parseAnswer("stream: Win.Test.EICAR_HDB-1 FOUND")).toEqual({
      verdict: "infected",
      signature: "Win.Test.EICAR_HDB-1",
    });
    expect(parseAnswer("INSTREAM size limit exceeded. ERROR")).toEqual({
      verdict: "error",
      message: "clamd answered: INSTREAM size limit exceeded.",
    });
  });
});
