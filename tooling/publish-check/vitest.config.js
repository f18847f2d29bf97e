import { withBase } from "@upload-gateway/vitest-config";

export default withBase({ test: { include: ["*.test.js"], testTimeout: 180_000 } });
