import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The page is served by the gateway itself (same origin as the API), so it needs no base URL or proxy in production.
// Its URLs are relative (`base: "./"`): it works wherever the gateway is mounted, e.g. under /media behind a proxy.
// `pnpm --filter @upload-gateway/web dev` proxies the API to a gateway running on :3000.
export default defineConfig({
  base: "./",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true },
  server: {
    proxy: Object.fromEntries(["/api", "/storage", "/docs", "/health"].map((path) => [path, "http://127.0.0.1:3000"])),
  },
});
