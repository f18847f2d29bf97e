import { withBase } from "@upload-gateway/vitest-config";

export default withBase({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts", "test/**/*.test.tsx"],
    // The package check packs the package and runs publint and attw: slow on a busy machine.
    testTimeout: 120_000,
  },
});
