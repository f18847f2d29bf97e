import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "./openapi";

type Operation = { security?: unknown[]; responses: Record<string, { description: string }> };
const document = buildOpenApiDocument("http://127.0.0.1:3000") as {
  paths: Record<string, Record<string, Operation>>;
  servers: unknown;
};
const operation = (path: string, method: string) => document.paths[path]![method]!;
const statuses = (path: string, method: string) => Object.keys(operation(path, method).responses).map(Number);
const uploads = "/api/projects/{projectId}/uploads";

const dir = mkdtempSync(join(tmpdir(), "openapi-lint-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the OpenAPI document", () => {
  it("names the server and leaves the probes and the dev session open (security: [])", () => {
    expect(document.servers).toEqual([{ url: "http://127.0.0.1:3000", description: "This gateway" }]);
    for (const path of ["/health/live", "/health/ready", "/api/dev-session"])
      expect(operation(path, "get").security).toEqual([]);
    expect(operation(`${uploads}/multipart`, "post").security).toEqual([{ apiKey: [] }]);
  });

  it("lists per route the error statuses it can answer, each with its codes, and none it cannot", () => {
    // No route answers 405, and only the start 429 (a project's maxOpenUploads); GETs take no body, so no 413 or 415.
    for (const [, operations] of Object.entries(document.paths)) {
      for (const op of Object.values(operations)) expect(Object.keys(op.responses)).not.toContain("405");
    }
    expect(statuses(`${uploads}/multipart`, "post")).toEqual([
      200, 400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503,
    ]);
    expect(operation(`${uploads}/multipart`, "post").responses["429"]!.description).toContain(
      "`TOO_MANY_OPEN_UPLOADS`",
    );
    expect(statuses(uploads, "get")).toEqual([200, 400, 401, 403, 404, 500, 503]);
    expect(statuses("/health/live", "get")).toEqual([200]);
    expect(statuses("/health/ready", "get")).toEqual([200, 503]);
    expect(statuses("/api/dev-session", "get")).toEqual([200, 404]);
    expect(operation(`${uploads}/multipart`, "post").responses["409"]!.description).toContain("`DUPLICATE_FILE`");
    expect(operation(`${uploads}/multipart-complete`, "put").responses["409"]!.description).toContain(
      "`UPLOAD_NOT_IN_PROGRESS`",
    );
    expect(operation(`${uploads}/success/{requestKey}`, "post").responses["409"]!.description).toContain(
      "`UPLOAD_NOT_COMPLETED`",
    );
    const mint = "/api/projects/{projectId}/upload-tokens";
    expect(statuses(mint, "post")).toEqual([200, 400, 401, 403, 404, 413, 415, 500, 501, 503]);
    expect(operation(mint, "post").responses["401"]!.description).toContain("`TOKEN_EXPIRED`");
    expect(operation(mint, "post").responses["403"]!.description).toContain("`TOKEN_NOT_ALLOWED`");
    expect(operation(uploads, "get").responses["403"]!.description).toContain("`TOKEN_NOT_ALLOWED`");
    expect(operation(`${uploads}/multipart`, "post").responses["403"]!.description).toContain(
      "`TOKEN_UPLOAD_LIMIT_REACHED`",
    );
    expect(operation(mint, "post").security).toEqual([{ apiKey: [] }]);
  });

  it("documents the start's optional metadata and returns it in status and list", () => {
    const schemas = JSON.stringify(document);
    const start = operation(`${uploads}/multipart`, "post") as unknown as {
      requestBody: {
        content: {
          "application/json": {
            schema: { properties: Record<string, { type?: string; description?: string }>; required: string[] };
          };
        };
      };
    };
    const body = start.requestBody.content["application/json"].schema;
    expect(body.properties.metadata).toMatchObject({ type: "object" });
    expect(body.properties.metadata!.description).toContain("at most 32 keys");
    expect(body.required).not.toContain("metadata");
    expect(schemas).toContain("The `metadata` given at start");
  });

  it("passes Redocly's recommended rules with no error and no warning", async () => {
    writeFileSync(join(dir, "openapi.json"), JSON.stringify(document, null, 2));
    // The probes cannot answer any 4xx: listing one to please the rule would document a reply that never comes.
    writeFileSync(
      join(dir, ".redocly.lint-ignore.yaml"),
      "openapi.json:\n  operation-4xx-response:\n    - '#/paths/~1health~1live/get/responses'\n    - '#/paths/~1health~1ready/get/responses'\n",
    );
    const redocly = join(__dirname, "..", "..", "node_modules", ".bin", "redocly");
    const run = await promisify(execFile)(redocly, ["lint", "openapi.json", "--extends=recommended", "--format=json"], {
      cwd: dir,
      env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
    }).catch((error: { stdout: string; stderr: string }) => error);
    const report = JSON.parse(run.stdout.slice(run.stdout.indexOf("{"))) as {
      totals: { errors: number; warnings: number; ignored: number };
      problems: { ruleId: string; message: string }[];
    };
    expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0, ignored: 2 });
  }, 60_000);
});
