import { withBase } from "@upload-gateway/vitest-config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Files that mostly wait (client-offline keeps the browser offline for 30 s): run first, while the other packages'
 * suites still keep both cores busy, rather than last, when this suite is all that runs and the machine would idle.
 */
const WAITING_FILES = ["client-offline.e2e.test.ts"];

class WaitingFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const waits = (file: TestSpecification) => WAITING_FILES.some((name) => file.moduleId.endsWith(`/${name}`));
    const sorted = await super.sort(files);
    return [...sorted.filter(waits), ...sorted.filter((file) => !waits(file))];
  }
}

export default withBase({
  test: {
    // The browser tests drive Debian's Chromium, installed here when it is missing.
    globalSetup: ["./test/support/chromium-global-setup.ts"],
    testTimeout: 120_000,
    // One Chromium at a time: the machine has two cores and the uploads are timed by the page, not by the tests.
    fileParallelism: false,
    // And one for the whole suite (test/support/browser.ts): the files share a worker that keeps its modules, the
    // Chromium among them; each file's contexts are closed after it (browser.setup.ts).
    isolate: false,
    setupFiles: ["./test/support/browser.setup.ts"],
    sequence: { sequencer: WaitingFilesFirst },
  },
});
