import { defineConfig } from "@upload-gateway/eslint-config";
import reactHooks from "eslint-plugin-react-hooks";

export default [
  ...defineConfig({ tsconfigRootDir: import.meta.dirname }),
  { files: ["src/**/*.ts", "src/**/*.tsx"], ...reactHooks.configs.flat.recommended },
];
