import {
  appendFileSync,
  closeSync,
  existsSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  writeSync,
} from "node:fs";
import { get, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GiB, MiB } from "@upload-gateway/contract";
import { runProcess, runToEnd } from "@upload-gateway/server/testing";
import { createApiClient, FileChangedError } from "../src/index";
import { uploadFile } from "../src/node";
import { startGateway, type Gateway } from "./support/gateway";

// Files of 4 GiB and more from Node (issue 25): fs.openAsBlob reported their size modulo 4 GiB, so the CLI stored a
// 4 GiB + 5 MiB + 3 B file as 5 MiB + 3 B and said it succeeded. Sparse sources cost no disk; the embedded store
// (fsync off) does write the whole file.
const CLI = join(__dirname, "..", "dist", "cli.js");
const SIZE = 4 * GiB + 5 * MiB + 3;

let dir: string;
let gateway: Gateway;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "large-file-"));
  gateway = await startGateway("local");
});
// Removing the stored 4 GiB can take long on a disk that is still writing it back (as in the packaging test).
afterAll(async () => {
  await gateway?.close();
  rmSync(dir, { recursive: true, force: true });
}, 600_000);

/** The 1 KiB regions of distinct bytes around 2 GiB, 4 GiB and at the end of a sparse file of `size` (zeros elsewhere). */
function distinctRegions(size: number): { at: number; bytes: Buffer }[] {
  return [0, 2 * GiB - 512, 4 * GiB - 512, 4 * GiB + 512, size - 1024]
    .filter((at) => at + 1024 <= size)
    .map((at) => {
      const bytes = Buffer.alloc(1024);
      for (let i = 0; i < bytes.length; i++) bytes[i] = ((at + i) * 2654435761) >>> 24;
      return { at, bytes };
    });
}

/** A sparse file with its distinct regions written, so that misplaced reads change its content. */
function sparseFile(name: string, size: number): string {
  const path = join(dir, name);
  const fd = openSync(path, "w");
  ftruncateSync(fd, size);
  for (const { at, bytes } of distinctRegions(size)) writeSync(fd, bytes, 0, bytes.length, at);
  closeSync(fd);
  return path;
}

const ZEROS = Buffer.alloc(4 * MiB);

/**
 * Compares a download with the sparse file of `size`, every byte, chunk by chunk: zeros except its distinct regions.
 * No hash and no read of the file: hashing the download and reading and hashing the file cost the test's process
 * 31 s of CPU, this 18 s. Returns the offset of the first chunk that differs (or where the download ended), `size`
 * when all is the same.
 */
async function sameBytesAsSparse(stream: AsyncIterable<Buffer>, size: number): Promise<number> {
  const regions = distinctRegions(size);
  let offset = 0;
  for await (const chunk of stream) {
    const end = offset + chunk.length;
    const overlapping = regions.filter(({ at, bytes }) => at < end && at + bytes.length > offset);
    const want =
      overlapping.length === 0 && chunk.length <= ZEROS.length
        ? ZEROS.subarray(0, chunk.length)
        : Buffer.alloc(chunk.length);
    for (const { at, bytes } of overlapping) {
      const from = Math.max(at, offset);
      bytes.copy(want, from - offset, from - at, Math.min(at + bytes.length, end) - at);
    }
    if (end > size || !chunk.equals(want)) return offset;
    offset = end;
  }
  return offset;
}

describe("a file over 4 GiB", () => {
  it("is uploaded whole by the CLI to the embedded store: the stored file is the file, byte for byte", async () => {
    const path = sparseFile("movie.mp4", SIZE);
    const run = await runToEnd(
      process.execPath,
      [CLI, "upload", path, "--server", gateway.url, "--project", gateway.projectId, "--json", "--part-size", "64MiB"],
      { env: { UPLOAD_GATEWAY_KEY: gateway.apiKey, XDG_STATE_HOME: dir } },
    );
    expect(run.code, run.err).toBe(0);
    const stdout = run.out;
    const result = JSON.parse(stdout.trim()) as { size: number; partsNumber: number; requestKey: string };
    expect(result).toMatchObject({ size: SIZE, partsNumber: Math.ceil(SIZE / (64 * MiB)) });

    const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
    const details = await api.get(gateway.projectId, result.requestKey);
    expect(details).toMatchObject({ state: "completed", contentLength: String(SIZE) });
    const { downloadPath } = await api.downloadUrl(gateway.projectId, result.requestKey);

    // A range across the 4 GiB mark comes from the right place in the stored file.
    const at = 4 * GiB - 100;
    const ranged = await fetch(downloadPath, { headers: { range: `bytes=${at}-${at + 1299}` } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get("content-range")).toBe(`bytes ${at}-${at + 1299}/${SIZE}`);
    const want = Buffer.alloc(1300);
    const fd = openSync(path, "r");
    readSync(fd, want, 0, want.length, at);
    closeSync(fd);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(want)).toBe(true);

    // The whole stored file, byte for byte.
    const download = await new Promise<IncomingMessage>((resolve, reject) =>
      get(downloadPath, resolve).on("error", reject),
    );
    expect(download.statusCode).toBe(200);
    expect(await sameBytesAsSparse(download, SIZE)).toBe(SIZE);
  }, 600_000);
});

describe("the CLI's --resume state of a file over 4 GiB", () => {
  it("keeps the file's exact size, and names an upload planned for it", async () => {
    const size = 5 * GiB + 3;
    const path = sparseFile("resumable.mp4", size);
    const stateHome = mkdtempSync(join(dir, "state-"));
    const args = [
      "upload",
      path,
      "--server",
      gateway.url,
      "--project",
      gateway.projectId,
      "--resume",
      "--part-size",
      "64MiB",
      "--concurrency",
      "1",
    ];
    const { child, exit } = runProcess(process.execPath, [CLI, ...args], {
      env: { UPLOAD_GATEWAY_KEY: gateway.apiKey, XDG_STATE_HOME: stateHome },
      stdout: false,
    });
    const stateDir = join(stateHome, "upload-gateway");
    let saved: { requestKey: string; size: number } | undefined;
    for (let i = 0; i < 600 && !saved; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const [name] = existsSync(stateDir) ? readdirSync(stateDir).filter((n) => n.endsWith(".json")) : [];
      if (name) saved = JSON.parse(readFileSync(join(stateDir, name), "utf8")) as { requestKey: string; size: number };
    }
    child.kill("SIGINT");
    expect(await exit).toBe(130);
    expect(saved).toMatchObject({ size, requestKey: expect.any(String) });
    const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
    expect(await api.get(gateway.projectId, saved!.requestKey)).toMatchObject({
      contentLength: String(size),
      partsNumber: Math.ceil(size / (64 * MiB)),
    });
    await api.abort(gateway.projectId, saved!.requestKey);
  });
});

describe("a file that changes during its upload", () => {
  // After part 1 the next part's read finds it; after the last part only the check before completing can.
  it.each([1, 8])(
    "fails with FileChangedError when it grows after part %i is stored; the upload is aborted, not completed",
    async (after) => {
      const path = sparseFile(`growing-${after}.bin`, 40 * MiB);
      const api = createApiClient({ baseUrl: gateway.url, apiKey: gateway.apiKey });
      let grown = false;
      const task = uploadFile(path, {
        client: api,
        projectId: gateway.projectId,
        partSize: 5 * MiB,
        concurrency: 1,
        onPartState: (partNumber, state) => {
          if (partNumber === after && state === "done" && !grown) {
            grown = true;
            appendFileSync(path, "appended while uploading");
          }
        },
      });
      const error = await task.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(FileChangedError);
      expect((error as FileChangedError).code).toBe("FILE_CHANGED");
      expect((error as Error).message).toMatch(/had 41943040 bytes when the upload started and has 41943064 now/);
      expect((error as FileChangedError).requestKey).toBe(task.requestKey);
      expect(await api.get(gateway.projectId, task.requestKey!)).toMatchObject({ state: "aborted" });
    },
  );
});
