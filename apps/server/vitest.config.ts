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
    // once). Two workers: the suite mostly waits (on processes, timers, the store), and with the tests' RGW answering
    // at once (tcp_nodelay) a fresh-clone CI run went from 657 to 561 s with two, the rest of the machine still busy.
    // Three made it slower (770 s, on RGW's default frontend), and a `minWorkers` of 3 crashed workers.
    setupFiles: ["@upload-gateway/ceph-rgw/vitest-worker-bucket", "./test/support/fresh-modules.setup.ts"],
    maxWorkers: 2,
    minWorkers: 1,
  },
});
