import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts" },
  // ESM only, like Uppy 5 itself: a CommonJS build could not load @uppy/aws-s3.
  format: ["esm"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "es2022",
  external: [/^@uppy\//, /^@upload-gateway\//],
});
