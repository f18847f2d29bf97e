import type { ConfigArray } from "typescript-eslint";

export declare function defineConfig(options: { tsconfigRootDir: string }): ConfigArray;
