import { randomBytes } from "node:crypto";
import { S3Storage } from "../src/storage/s3.storage";
import { STORAGE, type Storage } from "../src/storage/storage.port";
import { s3Env, startGateway } from "./support/gateway";
import { storageConformance } from "./support/storage-conformance";

// One suite, run against every adapter: the embedded store (served by a real gateway, since its URLs point there)
// and S3 on Ceph RGW.

storageConformance("local", async () => {
  const gateway = await startGateway({}, "local");
  return { storage: gateway.app.get<Storage>(STORAGE), prefix: "conformance", close: () => gateway.close() };
});

storageConformance("s3", () => {
  const env = s3Env();
  const storage = new S3Storage({
    bucket: env.S3_BUCKET!,
    region: env.S3_REGION ?? "us-east-1",
    endpoint: env.S3_ENDPOINT,
    forcePathStyle: true,
  });
  return Promise.resolve({
    storage,
    prefix: `conformance/${randomBytes(6).toString("hex")}`,
    close: () => Promise.resolve(storage.destroy()),
  });
});
