import { withBase } from "@upload-gateway/vitest-config";
import swc from "unplugin-swc";

export default withBase({
  // esbuild drops decorator metadata, which Nest's injection needs; swc keeps it.
  plugins: [swc.vite({ module: { type: "es6" } })],
  test: {
    // Tests that need S3 get a real one: a one-node Ceph RGW started here unless S3_ENDPOINT is given.
    globalSetup: ["@upload-gateway/ceph-rgw/vitest-global-setup"],
  },
});
