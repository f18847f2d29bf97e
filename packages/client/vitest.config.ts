import { withBase } from "@upload-gateway/vitest-config";
import { viteInlineWorker } from "./build/inline-worker";

export default withBase({
  plugins: [viteInlineWorker()],
  test: {
    // The S3 runs need a real S3: a one-node Ceph RGW started here unless S3_ENDPOINT is given.
    globalSetup: ["@upload-gateway/ceph-rgw/vitest-global-setup"],
    // Each worker on a bucket of its own: a gateway lists its due work bucket-wide, and the suites run side by side.
    setupFiles: ["@upload-gateway/ceph-rgw/vitest-worker-bucket"],
    // A worker keeps modules loaded from one file to the next (each file still gets its own gateways): about 15 CPU-s
    // less for the suite than a fresh process per file. Tests restore the globals they stub.
    isolate: false,
    // Two workers: most files wait on gateways, proxies and retries; a fresh-clone CI run went from 561 to 539 s.
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 120_000,
  },
});
