import { randomBytes } from "node:crypto";
import { STORAGE, type Storage } from "../src/storage/storage.port";
import { startGateway, testS3Storage } from "./support/gateway";
import { storageConformance } from "./support/storage-conformance";

// One suite, run against every adapter: the embedded store (served by a real gateway, since its URLs point there)
// and S3 on Ceph RGW.

storageConformance("local", async () => {
  const gateway = await startGateway({}, "local");
  return { storage: gateway.app.get<Storage>(STORAGE), prefix: "conformance", close: () => gateway.close() };
});

storageConformance("s3", () => {
  const storage = testS3Storage();
  return Promise.resolve({
    storage,
    prefix: `conformance/${randomBytes(6).toString("hex")}`,
    close: () => Promise.resolve(storage.destroy()),
  });
});
