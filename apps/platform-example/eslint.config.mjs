import { defineConfig } from "@upload-gateway/eslint-config";

export default defineConfig({ tsconfigRootDir: import.meta.dirname });
