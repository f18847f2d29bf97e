import { defineConfig } from "@upload-gateway/eslint-config";

// scripts/ holds plain-JS packaging steps, outside the TS project (like bin/ stubs elsewhere).
export default [
  ...defineConfig({ tsconfigRootDir: import.meta.dirname }),
  { ignores: ["scripts/**"] },
  {
    files: ["src/**/*.test.ts", "test/**/*.ts"],
    rules: {
      "no-restricted-properties": [
        "error",
        {
          object: "vi",
          property: "setConfig",
          message:
            "The test files share a worker (isolate: false), where vi.setConfig does not reach the file that calls " +
            "it: give a slow test its timeout as a describe or test option ({ timeout }).",
        },
      ],
    },
  },
];
