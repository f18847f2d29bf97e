import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileChangedError, guessMimeType, nodeHttpTransport } from "./node";

describe("guessMimeType", () => {
  it.each([
    ["/videos/clip.mp4", "video/mp4"],
    ["CLIP.MKV", "video/x-matroska"],
    ["a.mov", "video/quicktime"],
    ["take 2.webm", "video/webm"],
    ["recording.m2ts", "video/mp2t"],
    ["subtitles.vtt", "text/vtt"],
    ["backup.tar.gz", "application/gzip"],
  ])("names %s as %s, from the maintained registry", (path, type) => {
    expect(guessMimeType(path)).toBe(type);
  });

  it.each(["README", "data.no-such-extension", "trailing."])(
    "falls back to application/octet-stream for %s",
    (path) => {
      expect(guessMimeType(path)).toBe("application/octet-stream");
    },
  );
});

describe("nodeHttpTransport with a file path", () => {
  const dir = mkdtempSync(join(tmpdir(), "node-transport-"));
  const path = join(dir, "file.bin");
  const file = randomBytes(3 * 1024 * 1024 + 12_345);
  writeFileSync(path, file);
  let server: Server;
  let url: string;

  beforeAll(async () => {
    // A slow reader: bytes wait in the socket while the next chunk is read, so a buffer reused too early would show.
    server = createServer((request, response) => {
      const hash = createHash("md5");
      let received = 0;
      request.on("data", (chunk: Buffer) => {
        received += chunk.length;
        hash.update(chunk);
        request.pause();
        setTimeout(() => request.resume(), 1);
      });
      request.on("end", () =>
        response.writeHead(200, { etag: `"${hash.digest("hex")}"`, "x-received": String(received) }).end(),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/part`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it("sends exactly the part's range of the file, hashed on the way, with progress up to its size", async () => {
    const offset = 54_321;
    const size = 2 * 1024 * 1024 + 777; // several chunks, so both buffers are reused
    const progress: number[] = [];
    const reply = await nodeHttpTransport({ path }).send({
      url,
      body: new Blob([new Uint8Array(size)]),
      offset,
      signal: new AbortController().signal,
      onProgress: (loaded) => progress.push(loaded),
    });
    const expected = createHash("md5")
      .update(file.subarray(offset, offset + size))
      .digest("hex");
    expect(reply).toMatchObject({ status: 200, eTag: `"${expected}"`, sentMd5: expected });
    expect(progress.at(-1)).toBe(size);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    // As the bytes leave, chunk by chunk: not only once the part is sent.
    expect(progress.filter((loaded) => loaded < size).length).toBeGreaterThanOrEqual(4);
  });

  it("fails, rather than waiting forever, when the file is shorter than the part (it changed during the upload)", async () => {
    const send = nodeHttpTransport({ path }).send({
      url,
      body: new Blob([new Uint8Array(1024 * 1024)]),
      offset: file.length - 1000,
      signal: new AbortController().signal,
    });
    await expect(send).rejects.toThrow(/gave 1000 bytes for a part of 1048576/);
    await expect(send).rejects.toBeInstanceOf(FileChangedError);
  });
});
