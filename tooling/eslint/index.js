// Shared flat config: typescript-eslint's type-aware recommended rules for every package, plus the house rules
// (house-rules.js) of the package whose folder is `tsconfigRootDir`.
import js from "@eslint/js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import tseslint from "typescript-eslint";
import { houseRules } from "./house-rules.js";

/** @param {{ tsconfigRootDir: string }} options */
export function defineConfig({ tsconfigRootDir }) {
  const { name } = JSON.parse(readFileSync(join(tsconfigRootDir, "package.json"), "utf8"));
  return tseslint.config(
    { ignores: ["dist/**", "coverage/**", "bin/**", "**/*.config.*", "*.js", "*.mjs", "*.cjs"] },
    js.configs.recommended,
    ...tseslint.configs.recommendedTypeChecked,
    {
      languageOptions: {
        parserOptions: { projectService: true, tsconfigRootDir },
      },
      rules: {
        "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
        "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
        "@typescript-eslint/no-floating-promises": "error",
        // Aborts reject with `signal.reason`, which is untyped by design.
        "@typescript-eslint/prefer-promise-reject-errors": [
          "error",
          { allowThrowingAny: true, allowThrowingUnknown: true },
        ],
      },
    },
    {
      files: ["**/*.test.ts", "test/**/*.ts"],
      // Tests read JSON replies as `any` on purpose: the assertions are the type checks.
      rules: {
        "@typescript-eslint/no-explicit-any": "off",
        "@typescript-eslint/no-unsafe-argument": "off",
        "@typescript-eslint/no-unsafe-assignment": "off",
        "@typescript-eslint/no-unsafe-call": "off",
        "@typescript-eslint/no-unsafe-member-access": "off",
        "@typescript-eslint/no-unsafe-return": "off",
        "@typescript-eslint/no-non-null-assertion": "off",
      },
    },
    ...houseRules(name),
  );
}
