// vitest globalSetup entry: globalSetup: ["@upload-gateway/ceph-rgw/vitest-global-setup"]
export { rgwGlobalSetup as default } from "./index.js";
