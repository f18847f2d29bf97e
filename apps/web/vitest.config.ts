import { withBase } from "@upload-gateway/vitest-config";

export default withBase({
  test: {
    // The browser tests drive Debian's Chromium, installed here when it is missing.
    globalSetup: ["./test/support/chromium-global-setup.ts"],
    testTimeout: 120_000,
    // One Chromium at a time: the machine has two cores and the uploads are timed by the page, not by the tests.
    fileParallelism: false,
  },
});
