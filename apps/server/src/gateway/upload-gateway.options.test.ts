import { describe, expect, it } from "vitest";
import { S3Storage } from "../storage/s3.storage";
import { MemoryStorage } from "../storage/memory.storage";
import { setupFromOptions } from "./upload-gateway.options";

const auth = { projects: { projects: [], apiKeys: [] } };
const observeStorage = () => undefined;

describe("an adapter the embedding app made", () => {
  // The kind decides what the health check names and whether the gateway signs upload tokens with the embedded
  // store's keys; it is told by a brand, not `instanceof`, so that the embedded store never loads the AWS SDK.
  it("is named s3 when it is the S3 adapter or a subclass of it", () => {
    class TracedS3Storage extends S3Storage {}
    for (const storage of [
      new S3Storage({ bucket: "b", region: "us-east-1", forcePathStyle: true }),
      new TracedS3Storage({ bucket: "b", region: "us-east-1", forcePathStyle: true }),
    ]) {
      expect(setupFromOptions({ storage, auth }, "", observeStorage).config.STORAGE).toBe("s3");
    }
  });

  it("is named local otherwise, as before", () => {
    const setup = setupFromOptions({ storage: new MemoryStorage(), auth }, "", observeStorage);
    expect(setup.config.STORAGE).toBe("local");
  });
});
