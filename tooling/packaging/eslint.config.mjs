import { defineConfig } from "@upload-gateway/eslint-config";

// fixtures/ holds the plain-JS app a user writes, run from the temporary folder the packages are installed in.
export default [...defineConfig({ tsconfigRootDir: import.meta.dirname }), { ignores: ["fixtures/**"] }];
