import { S3ServiceException } from "@aws-sdk/client-s3";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { S3Storage, toStorageError } from "./s3.storage";
import { StorageError } from "./storage.port";

// Presigning is pure computation: no S3 is contacted here.
const storage = new S3Storage({
  bucket: "videos",
  region: "eu-west-1",
  endpoint: "http://10.0.0.5:7480",
  publicEndpoint: "https://s3.example.test",
  forcePathStyle: true,
  credentials: { accessKeyId: "test-access", secretAccessKey: "test-secret" },
});

describe("S3Storage presigned part URLs", () => {
  it("carry no checksum parameters (real S3 would check an empty-body CRC32 against the part)", async () => {
    const [url] = await storage.presignUploadParts(
      "projects/p/files/k",
      "upload-1",
      [{ partNumber: 7, size: 1234 }],
      3600,
    );
    const query = new URL(url!).searchParams;
    const names = [...query.keys()].map((k) => k.toLowerCase());
    expect(names.filter((n) => n.startsWith("x-amz-checksum") || n === "x-amz-sdk-checksum-algorithm")).toEqual([]);
    expect(query.get("X-Amz-SignedHeaders")).toBe("content-length;host");
    expect(query.get("partNumber")).toBe("7");
    expect(query.get("uploadId")).toBe("upload-1");
    expect(query.get("X-Amz-Expires")).toBe("3600");
  });

  it("are signed for the public endpoint, one URL per part in order", async () => {
    const urls = await storage.presignUploadParts(
      "projects/p/files/k",
      "u",
      [1, 2, 3].map((partNumber) => ({ partNumber, size: 10 })),
      60,
    );
    expect(urls.map((u) => new URL(u).origin)).toEqual(Array(3).fill("https://s3.example.test"));
    expect(urls.map((u) => new URL(u).pathname)).toEqual(Array(3).fill("/videos/projects/p/files/k"));
    expect(urls.map((u) => new URL(u).searchParams.get("partNumber"))).toEqual(["1", "2", "3"]);
  });
});

describe("S3Storage presigning many parts", () => {
  it("signs 10,000 parts in order, letting other work run in between", async () => {
    let turns = 0;
    let running = true;
    const tick = () => {
      turns++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const parts = Array.from({ length: 10_000 }, (_, i) => ({ partNumber: i + 1, size: 5 * 1024 * 1024 }));
    const urls = await storage.presignUploadParts("projects/p/files/k", "u", parts, 60);
    running = false;
    expect(urls.map((u) => Number(new URL(u).searchParams.get("partNumber")))).toEqual(parts.map((p) => p.partNumber));
    expect(turns).toBeGreaterThanOrEqual(10);
  });
});

describe("toStorageError", () => {
  const s3Error = (name: string, status: number) =>
    new S3ServiceException({
      name,
      $fault: status >= 500 ? "server" : "client",
      $metadata: { httpStatusCode: status },
    });

  it.each([
    ["NoSuchUpload", 404, "upload-not-found"],
    ["InvalidPart", 400, "invalid-part"],
    ["InvalidPartOrder", 400, "invalid-part-order"],
    ["EntityTooSmall", 400, "part-too-small"],
    ["NoSuchBucket", 404, "unavailable"],
    ["InternalError", 500, "unavailable"],
    ["SlowDown", 503, "unavailable"],
    ["AccessDenied", 403, "unavailable"],
  ])("maps %s (%i) to %s", (name, status, reason) => {
    const mapped = toStorageError(s3Error(name, status));
    expect(mapped).toBeInstanceOf(StorageError);
    expect((mapped as StorageError).reason).toBe(reason);
  });

  it("maps connection failures to unavailable and leaves other errors alone", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
    expect((toStorageError(refused) as StorageError).reason).toBe("unavailable");
    const bug = new TypeError("x is undefined");
    expect(toStorageError(bug)).toBe(bug);
    const other = s3Error("InvalidArgument", 400);
    expect(toStorageError(other)).toBe(other);
  });
});

describe("S3Storage.objectHead", () => {
  it("reads a HEAD answered 400 (an SSE-C object, unreadable without its key) as an object with a header not signed", async () => {
    // A stand-in for a store over HTTPS that took a single PUT's unsigned SSE-C headers: it answers HEADs 400.
    const server = createServer((request, response) => {
      response.writeHead(request.method === "HEAD" ? 400 : 500).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const s3 = new S3Storage({
      bucket: "videos",
      region: "us-east-1",
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: "a", secretAccessKey: "b" },
    });
    try {
      const head = await s3.objectHead("projects/p/files/k");
      expect(head?.storedHeaders).toEqual({ "x-amz-server-side-encryption-customer-algorithm": "" });
    } finally {
      s3.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
