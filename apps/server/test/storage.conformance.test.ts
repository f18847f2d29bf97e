import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteObjectCommand, PutObjectCommand, S3Client, type S3ServiceException } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { LocalDataDir } from "../src/storage/local-data-dir";
import { LocalDocumentStore } from "../src/storage/local-document.store";
import { MemoryDocumentStore } from "../src/storage/memory-document.store";
import { s3ClientConfig } from "../src/storage/s3.storage";
import type { Storage } from "../src/storage/storage.port";
import { STORAGE } from "../src/tokens";
import { s3Env, startGateway, testS3Storage } from "./support/gateway";
import { servedMemoryStorage } from "./support/memory-store";
import { documentStoreConformance } from "./support/document-store-conformance";
import { objectStoreConformance } from "./support/object-store-conformance";
import { storageConformance, type StorageHarness } from "./support/storage-conformance";

// Each port's suite, run against every adapter: the embedded store (its objects served by a real gateway, since its
// URLs point there; its documents on a data dir of their own), S3 on Ceph RGW, and the in-memory store the workflow's
// unit tests run on (its URLs served by the same handlers); then what the combined port adds, on each.

const local = async (): Promise<StorageHarness> => {
  const gateway = await startGateway({}, "local");
  return { storage: gateway.app.get<Storage>(STORAGE), prefix: "conformance", close: () => gateway.close() };
};
objectStoreConformance("local", local);
documentStoreConformance("local", () => {
  const dir = mkdtempSync(join(tmpdir(), "local-documents-"));
  const storage = new LocalDocumentStore(new LocalDataDir(join(dir, "data")));
  return Promise.resolve({
    storage,
    prefix: "conformance",
    close: () => Promise.resolve(rmSync(dir, { recursive: true })),
  });
});
storageConformance("local", local);

const memory = async (): Promise<StorageHarness> => {
  const served = await servedMemoryStorage();
  return { storage: served.storage, prefix: "conformance", close: () => served.close() };
};
objectStoreConformance("memory", memory);
documentStoreConformance("memory", () =>
  Promise.resolve({ storage: new MemoryDocumentStore(), prefix: "conformance", close: () => Promise.resolve() }),
);
storageConformance("memory", memory);

const s3 = (): Promise<StorageHarness> => {
  const storage = testS3Storage();
  return Promise.resolve({
    storage,
    prefix: `conformance/${randomBytes(6).toString("hex")}`,
    close: () => Promise.resolve(storage.destroy()),
  });
};
objectStoreConformance("s3", s3);
documentStoreConformance("s3", s3);
storageConformance("s3", s3);

describe("S3 conditional writes on the test store", () => {
  // What the S3 adapter's compare-and-swap relies on, pinned against the store itself (Ceph RGW 16 here).
  it("If-Match takes the bare ETag; the quoted form is refused even when it names the current version", async () => {
    const env = s3Env();
    const client = new S3Client(
      s3ClientConfig(
        { bucket: env.S3_BUCKET!, region: env.S3_REGION ?? "us-east-1", forcePathStyle: true },
        env.S3_ENDPOINT,
      ),
    );
    const key = `conformance/${randomBytes(6).toString("hex")}/if-match.json`;
    const put = async (body: string, conditions: { IfMatch?: string; IfNoneMatch?: string } = {}) => {
      try {
        return {
          status: 200,
          eTag: (
            await client.send(new PutObjectCommand({ Bucket: env.S3_BUCKET!, Key: key, Body: body, ...conditions }))
          ).ETag!,
        };
      } catch (error) {
        return { status: (error as S3ServiceException).$metadata.httpStatusCode, eTag: undefined };
      }
    };
    try {
      const first = await put("1");
      expect(first.eTag).toMatch(/^"[0-9a-f]{32}"$/);
      expect((await put("2", { IfMatch: first.eTag })).status).toBe(412);
      expect((await put("1", { IfNoneMatch: "*" })).status).toBe(412);
      expect((await put("3", { IfMatch: first.eTag!.slice(1, -1) })).status).toBe(200);
    } finally {
      await client.send(new DeleteObjectCommand({ Bucket: env.S3_BUCKET!, Key: key }));
      client.destroy();
    }
  });
});
