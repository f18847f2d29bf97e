import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ServiceException,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalDataDir } from "../src/storage/local-data-dir";
import { LocalDocumentStore } from "../src/storage/local-document.store";
import { MemoryDocumentStore } from "../src/storage/memory-document.store";
import { S3ObjectMove } from "../src/storage/s3-object-move";
import { s3ClientConfig } from "../src/storage/s3.storage";
import type { Storage } from "../src/storage/storage.port";
import { STORAGE } from "../src/tokens";
import { s3Env, startGateway, testS3Storage } from "./support/gateway";
import { servedMemoryStorage } from "./support/memory-store";
import { documentStoreConformance } from "./support/document-store-conformance";
import { moveCases, storeObject } from "./support/object-move-conformance";
import { objectStoreConformance } from "./support/object-store-conformance";
import { MiB } from "./support/object-store-requests";
import { storageConformance, type StorageHarness } from "./support/storage-conformance";

/** An SDK client of the test S3, with the adapter's own settings: for what a test checks at the store itself. */
function testS3Client(): S3Client {
  const env = s3Env();
  return new S3Client(
    s3ClientConfig(
      { bucket: env.S3_BUCKET!, region: env.S3_REGION ?? "us-east-1", forcePathStyle: true },
      env.S3_ENDPOINT,
    ),
  );
}

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
const s3Parts = (): Promise<StorageHarness> => {
  const storage = testS3Storage({ multipartCopyThreshold: 5 * MiB, copyPartSize: 5 * MiB });
  return Promise.resolve({
    storage,
    prefix: `conformance/${randomBytes(6).toString("hex")}`,
    close: () => Promise.resolve(storage.destroy()),
  });
};
documentStoreConformance("s3", s3);
storageConformance("s3", s3);

describe("S3 moves of objects over the copy threshold: a multipart copy (UploadPartCopy)", () => {
  // The threshold is 5 GiB (CopyObject's limit) in a deployment; lowered here so a 12 MiB object takes the same path,
  // in parts of 5 MiB (S3's smallest but the last): 5 + 5 + 2.
  let harness: StorageHarness;
  let n = 0;
  beforeAll(async () => {
    harness = await s3Parts();
  });
  afterAll(() => harness.close());
  const size = 12 * MiB;
  moveCases({ harness: () => harness, key: () => `${harness.prefix}/files/object-${++n}` }, size);

  it("copies in 5 MiB parts, keeping what the object was stored with", async () => {
    const env = s3Env();
    const client = testS3Client();
    const [from, to] = [`${harness.prefix}/files/parts-from`, `${harness.prefix}/files/parts-to`];
    try {
      await storeObject(harness.storage, from, size);
      const head = (key: string) => client.send(new HeadObjectCommand({ Bucket: env.S3_BUCKET!, Key: key }));
      const before = await head(from);
      expect(await harness.storage.moveObject(from, to)).toBe(true);
      const after = await head(to);
      // A multipart object's ETag names its number of parts: three, so each part but the last was 5 MiB.
      expect(after.ETag).toMatch(/-3"$/);
      expect(after.ContentLength).toBe(size);
      expect(after.ContentType).toBe(before.ContentType);
      expect(after.ContentDisposition).toBe(before.ContentDisposition);
      expect(after.Metadata).toEqual(before.Metadata);
    } finally {
      client.destroy();
    }
  });

  it("a source replaced while its parts are copied fails the move: no object of mixed versions, the source kept", async () => {
    const env = s3Env();
    const client = testS3Client();
    const [from, to] = [`${harness.prefix}/files/replaced-from`, `${harness.prefix}/files/replaced-to`];
    const replacement = randomBytes(size);
    let replaced = false;
    // The first part copy's request replaces the source before it is sent (RGW ignores x-amz-copy-source-if-match).
    const replacing = new Proxy(client, {
      get(target, name, receiver) {
        if (name !== "send") return Reflect.get(target, name, receiver) as unknown;
        return async (command: { constructor: { name: string } }) => {
          if (command.constructor.name === "UploadPartCopyCommand" && !replaced) {
            replaced = true;
            await target.send(new PutObjectCommand({ Bucket: env.S3_BUCKET!, Key: from, Body: replacement }));
          }
          return target.send(command as PutObjectCommand);
        };
      },
    });
    try {
      await storeObject(harness.storage, from, size);
      const inParts = { multipartCopyThreshold: 5 * MiB, copyPartSize: 5 * MiB };
      const move = new S3ObjectMove(replacing, env.S3_BUCKET!, inParts);
      await expect(move.move(from, to)).rejects.toMatchObject({ reason: "unavailable" });
      expect(replaced).toBe(true);
      expect(await harness.storage.objectSize(to)).toBeUndefined();
      const kept = await harness.storage.readObjectRange(from, 0, 1024);
      expect(Buffer.from(kept!)).toEqual(replacement.subarray(0, 1024));
      // Sent again, it moves the object as it is now.
      expect(await move.move(from, to)).toBe(true);
      expect(Buffer.from((await harness.storage.readObjectRange(to, size - 1024, 1024))!)).toEqual(
        replacement.subarray(size - 1024),
      );
    } finally {
      client.destroy();
    }
  });
});

describe("S3 conditional writes on the test store", () => {
  // What the S3 adapter's compare-and-swap relies on, pinned against the store itself (Ceph RGW 16 here).
  it("If-Match takes the bare ETag; the quoted form is refused even when it names the current version", async () => {
    const env = s3Env();
    const client = testS3Client();
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
