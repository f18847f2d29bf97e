import { withBase } from "@upload-gateway/vitest-config";

export default withBase({
  test: {
    // The package check packs the package and runs publint and attw: slow on a busy machine.
    testTimeout: 120_000,
  },
});
