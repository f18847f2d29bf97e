import { withBase } from "@upload-gateway/vitest-config";
import { viteInlineWorker } from "./build/inline-worker";

export default withBase({
  plugins: [viteInlineWorker()],
  test: {
    // The S3 runs need a real S3: a one-node Ceph RGW started here unless S3_ENDPOINT is given.
    globalSetup: ["@upload-gateway/ceph-rgw/vitest-global-setup"],
    testTimeout: 120_000,
  },
});
