import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts" },
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "es2022",
  // React and the client are the user's: never bundled in (one React per page; the client's own version).
  external: ["react", "@upload-gateway/client"],
});
