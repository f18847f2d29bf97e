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
    // Most files wait on RGW, child processes and timers, not on the CPU: three at a time keep two cores busy. Each
    // worker has a bucket of its own (the gateway's due work is global in its bucket).
    maxWorkers: 3,
    // As many from the start: with fewer, tinypool ends a spare worker while it still runs ("Terminating worker
    // thread", the run lost) when the files share their workers (isolate: false).
    minWorkers: 3,
    setupFiles: ["@upload-gateway/ceph-rgw/vitest-worker-bucket", "./test/support/fresh-modules.setup.ts"],
  },
});
