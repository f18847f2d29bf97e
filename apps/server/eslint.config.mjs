import { defineConfig } from "@upload-gateway/eslint-config";

// scripts/ holds plain-JS packaging steps, outside the TS project (like bin/ stubs elsewhere).
export default [...defineConfig({ tsconfigRootDir: import.meta.dirname }), { ignores: ["scripts/**"] }];
