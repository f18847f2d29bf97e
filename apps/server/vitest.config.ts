import { withBase } from "@upload-gateway/vitest-config";
import swc from "unplugin-swc";

export default withBase({
  // esbuild drops decorator metadata, which Nest's injection needs; swc keeps it.
  plugins: [swc.vite({ module: { type: "es6" } })],
  test: {
    // Tests that need S3 get a real one: a one-node Ceph RGW started here unless S3_ENDPOINT is given.
    globalSetup: ["@upload-gateway/ceph-rgw/vitest-global-setup"],
    // A worker keeps its dependencies (Nest, Fastify, the AWS SDK) loaded from one test file to the next: importing
    // them anew cost about 2 s of CPU per file, 150 s of a run on two cores. Our own modules are run afresh for each
    // file (fresh-modules.setup.ts), and vitest restores spies between files.
    isolate: false,
    // Each worker has a bucket of its own (the gateway lists its due work bucket-wide, and the packages' suites run at
    // once). One worker, vitest's default on two cores: with three, a fresh-clone CI run took 770 s instead of 668 s;
    // the machine is short of CPU, not of waiting files.
    setupFiles: ["@upload-gateway/ceph-rgw/vitest-worker-bucket", "./test/support/fresh-modules.setup.ts"],
  },
});
