// The repository's house rules as lint rules: who may read the environment, and which way imports may point.
// Each package's rules are keyed by its package.json name, so a package's own eslint.config stays one line.

const ENV_MESSAGE =
  "Read the environment in one place only: the server's config (apps/server/src/config), the CLI's entry, or tests. Pass values down instead.";

/** `process.env` in every spelling we know of: member access, destructuring, and `import { env } from "node:process"`. */
export const noProcessEnv = {
  "no-restricted-syntax": [
    "error",
    { selector: "MemberExpression[object.name='process'][property.name='env']", message: ENV_MESSAGE },
    { selector: "MemberExpression[object.name='process'][property.value='env']", message: ENV_MESSAGE },
    { selector: "MemberExpression[object.property.name='process'][property.name='env']", message: ENV_MESSAGE },
    {
      selector: "VariableDeclarator[init.name='process'] > ObjectPattern > Property[key.name='env']",
      message: ENV_MESSAGE,
    },
    {
      selector: "ImportDeclaration[source.value=/^(node:)?process$/] > ImportSpecifier[imported.name='env']",
      message: ENV_MESSAGE,
    },
  ],
};

const HTTP_LAYER = {
  group: ["fastify", "@fastify/*", "@nestjs/platform-fastify", "@ts-rest/nest"],
  message: "Storage adapters know no HTTP layer: the port speaks in keys, parts and streams; handlers translate.",
};
const SERVER_HTTP_CODE = {
  group: ["../errors", "../errors/*", "../uploads", "../uploads/*", "../auth", "../auth/*"],
  message: "Layers point down: storage must not import the handlers' errors, uploads or auth. Throw a StorageError.",
};
/** Below the standalone server, Fastify's types only: an app embedding the module on Express loads no Fastify module. */
const FASTIFY_AT_RUNTIME = {
  group: ["fastify", "@fastify/*", "find-my-way", "avvio", "@nestjs/platform-fastify"],
  allowTypeImports: true,
  message:
    "Only src/standalone loads Fastify at runtime (the package's entry must not: test/package-entry.test.ts). " +
    "Use `import type`, or a dynamic import on the Fastify platform only.",
};
/**
 * The server's floors (apps/server/src), lowest first; docs/architecture.md says what each holds. A folder imports
 * its own floor and the floors below it, never one above: the ground knows nothing of the rooms built on it, and
 * gateway/ (the composition root, with the package's entries in src/*.ts) is the only place that knows them all.
 * tokens.ts (every injection token) is on the ground floor: any folder may import it.
 */
const SERVER_FLOORS = [
  ["scheduling"],
  ["storage"],
  ["errors", "config"],
  ["http", "observability", "verification"],
  ["auth"],
  ["uploads"],
  ["webhooks"],
  ["docs", "health", "local-store-http"],
  ["gateway", "standalone"],
];

/**
 * One boundary per floor: its folders may not import any folder of a floor above (at any depth of relative path).
 * Storage adapters also know no HTTP layer and none of the handlers' code (a rule's options are replaced, not merged,
 * by a later config object for the same files: so they are one boundary).
 */
const UP = ["../", "../../", "../../../"];

function serverFloorBoundaries() {
  return SERVER_FLOORS.slice(0, -1).map((floor, index) => {
    const above = SERVER_FLOORS.slice(index + 1).flat();
    const storage = floor.includes("storage");
    return {
      files: floor.map((folder) => `src/${folder}/**/*.ts`),
      ignores: ["**/*.test.ts", ...(storage ? ["src/storage/**/*.routes.ts"] : [])],
      patterns: [
        ...(storage ? [HTTP_LAYER, SERVER_HTTP_CODE] : [FASTIFY_AT_RUNTIME]),
        {
          group: above.flatMap((folder) => UP.flatMap((up) => [`${up}${folder}`, `${up}${folder}/**`])),
          message:
            `Layers point down: ${floor.join(", ")} may not import ${above.join(", ")} (a floor above; see ` +
            "docs/architecture.md). Move the shared piece down, or pass it in through a token of src/tokens.ts.",
        },
      ],
    };
  });
}

const THE_SERVER = {
  group: [
    "@upload-gateway/server",
    "@upload-gateway/server/*",
    "**/apps/server/**",
    "**/server/src/**",
    "**/server/dist/**",
    "@nestjs/*",
    "fastify",
  ],
  message: "Clients and the demo reach the server over HTTP only (through the contract), never by importing it.",
};

/**
 * Per package: globs of files where `process.env` is allowed, and import boundaries as [files, ignores, patterns].
 * Tests may read the environment everywhere: they pass the S3 settings of the test RGW to the processes they start.
 */
const PACKAGES = {
  "@upload-gateway/server": {
    envAllowed: ["src/config/**"],
    boundaries: [
      // The embedded store's own HTTP routes (`*.routes.ts`) are its HTTP face, not an adapter.
      ...serverFloorBoundaries(),
      { files: ["src/gateway/**/*.ts", "src/*.ts"], ignores: ["**/*.test.ts"], patterns: [FASTIFY_AT_RUNTIME] },
      {
        files: ["src/standalone/**/*.ts"],
        ignores: ["**/*.test.ts"],
        patterns: [
          {
            group: ["fastify"],
            allowTypeImports: true,
            message:
              "fastify is no dependency of the package (Nest's platform pins its own copy, and Fastify checks some " +
              "options with instanceof): take it from @nestjs/platform-fastify's copy, as http-logging.ts does.",
          },
        ],
      },
    ],
  },
  "@upload-gateway/contract": {
    envAllowed: [],
    boundaries: [
      {
        files: ["src/**/*.ts"],
        ignores: ["**/*.test.ts"],
        patterns: [
          {
            group: [
              "@upload-gateway/*",
              "@nestjs/*",
              "fastify",
              "@fastify/*",
              "@aws-sdk/*",
              "@smithy/*",
              "node:*",
              "../*",
            ],
            message:
              "The contract is types, schemas and pure functions shared by server and clients (browsers too): it imports zod and @ts-rest/core only.",
          },
        ],
      },
    ],
  },
  "@upload-gateway/client": {
    // The CLI is a program: its key, state folder and the caller's working directory come from the environment.
    // The library beneath it never reads the environment (it runs in browsers too).
    envAllowed: ["src/cli.ts"],
    boundaries: [{ files: ["src/**/*.ts"], ignores: ["**/*.test.ts"], patterns: [THE_SERVER] }],
  },
  "@upload-gateway/platform-example": {
    // A platform team's app: its entry reads its own settings.
    envAllowed: ["src/main.ts"],
    boundaries: [
      {
        files: ["src/**/*.ts"],
        ignores: ["**/*.test.ts"],
        patterns: [
          {
            group: ["**/apps/server/**", "**/server/src/**", "**/server/dist/**", "@upload-gateway/server/*"],
            message: "The example uses the server's package entry only, as a platform team would.",
          },
        ],
      },
    ],
  },
  "@upload-gateway/web": {
    envAllowed: [],
    boundaries: [
      {
        files: ["src/**/*.ts", "src/**/*.tsx"],
        ignores: ["**/*.test.ts", "**/*.test.tsx"],
        patterns: [THE_SERVER, { group: ["node:*"], message: "The demo page runs in a browser." }],
      },
    ],
  },
};

/** @param {string} packageName @returns {import("typescript-eslint").ConfigArray} */
export function houseRules(packageName) {
  const own = PACKAGES[packageName] ?? { envAllowed: [], boundaries: [] };
  return [
    { rules: noProcessEnv },
    {
      files: [...own.envAllowed, "**/*.test.ts", "**/*.test.tsx", "test/**"],
      rules: { "no-restricted-syntax": "off" },
    },
    ...own.boundaries.map(({ files, ignores, patterns }) => ({
      files,
      ignores,
      // typescript-eslint's version: a pattern may allow `import type` (allowTypeImports), else it is the core rule.
      rules: { "@typescript-eslint/no-restricted-imports": ["error", { patterns }] },
    })),
  ];
}
