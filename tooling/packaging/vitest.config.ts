import { withBase } from "@upload-gateway/vitest-config";

// Each test starts a Nest app from the installed packages: seconds on a loaded 2-core machine.
export default withBase({ test: { testTimeout: 120_000 } });
