import { withBase } from "@upload-gateway/vitest-config";

export default withBase({});
