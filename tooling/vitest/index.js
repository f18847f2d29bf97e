// Shared vitest defaults: unit tests live beside the code, e2e and integration tests under test/.
import { defineConfig, mergeConfig } from "vitest/config";

export const baseConfig = defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    environment: "node",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});

/** @param {import("vitest/config").UserConfig} config */
export function withBase(config) {
  return mergeConfig(baseConfig, config);
}
