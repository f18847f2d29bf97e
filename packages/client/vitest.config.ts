import { withBase } from "@upload-gateway/vitest-config";
import { viteInlineWorker } from "./build/inline-worker";

export default withBase({
  plugins: [viteInlineWorker()],
  test: {
    // The S3 runs need a real S3: a one-node Ceph RGW started here unless S3_ENDPOINT is given.
    globalSetup: ["@upload-gateway/ceph-rgw/vitest-global-setup"],
    // The uploads wait on the network and on gateway processes more than on the CPU: two files at a time, each
    // worker on a bucket of its own (a gateway's due work is global in its bucket).
    maxWorkers: 2,
    setupFiles: ["@upload-gateway/ceph-rgw/vitest-worker-bucket"],
    testTimeout: 120_000,
  },
});
