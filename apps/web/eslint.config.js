import { defineConfig } from "@upload-gateway/eslint-config";
import reactHooks from "eslint-plugin-react-hooks";

export default [
  ...defineConfig({ tsconfigRootDir: import.meta.dirname }),
  { files: ["src/**/*.tsx", "src/**/*.ts"], ...reactHooks.configs.flat.recommended },
];
