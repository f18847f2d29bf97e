import type { Storage } from "../src/storage/storage.port";
import { STORAGE } from "../src/tokens";
import { startGateway, type TestGateway } from "./support/gateway";
import { call } from "./support/http";
import { uploadRaces, type RaceHarness } from "./support/upload-races";

// The race suite on one gateway, on the embedded store and on S3 (Ceph RGW); the same suite runs across three
// gateway processes in replicas.integration.test.ts.

function harness(gw: TestGateway): RaceHarness {
  return {
    api: async (method, path, body) =>
      call(gw.app, method, `/api/projects/${gw.projectId}/uploads${path}`, {
        headers: gw.auth,
        ...(body === undefined ? {} : { body }),
      }),
    storage: gw.app.get<Storage>(STORAGE),
    projectId: gw.projectId,
    close: () => gw.close(),
  };
}

uploadRaces("local", async () => harness(await startGateway({}, "local")));
uploadRaces("s3", async () => harness(await startGateway()));
