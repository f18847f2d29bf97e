import { withBase } from "@upload-gateway/vitest-config";

export default withBase({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts", "test/**/*.test.tsx"],
  },
});
