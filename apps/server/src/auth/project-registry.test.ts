import { describe, expect, it } from "vitest";
import { ProjectRegistry, sha256Hex } from "./project-registry";
import { parseProjectsFile } from "./projects-file";

const registry = new ProjectRegistry(
  parseProjectsFile(
    {
      projects: [{ id: "films" }, { id: "music" }],
      apiKeys: [
        { name: "editor", sha256: sha256Hex("editor-key"), projects: ["films"] },
        { name: "admin", sha256: sha256Hex("admin-key").toUpperCase(), projects: ["*"] },
      ],
    },
    "test",
  ),
);

describe("ProjectRegistry.authorize", () => {
  it.each([
    [undefined, "films", "UNAUTHORIZED"],
    ["", "films", "UNAUTHORIZED"],
    ["editor-key", "films", "UNAUTHORIZED"],
    ["Basic editor-key", "films", "UNAUTHORIZED"],
    ["Bearer wrong", "films", "UNAUTHORIZED"],
    ["Bearer editor-key", "music", "FORBIDDEN"],
    ["Bearer editor-key", "nope", "PROJECT_NOT_FOUND"],
    ["Bearer admin-key", "nope", "PROJECT_NOT_FOUND"],
  ])("%s on %s → %s", (header, project, code) => {
    expect(registry.authorize(header, project)).toEqual({ ok: false, code });
  });

  it("grants a key its projects, and '*' every project", () => {
    expect(registry.authorize("Bearer editor-key", "films")).toMatchObject({ ok: true, keyName: "editor" });
    expect(registry.authorize("bearer  admin-key", "music")).toMatchObject({ ok: true, keyName: "admin" });
  });
});

describe("parseProjectsFile", () => {
  it("refuses unsafe project ids, bad digests and keys naming unknown projects", () => {
    expect(() => parseProjectsFile({ projects: [{ id: "../x" }], apiKeys: [] }, "f")).toThrow(/projects\.0\.id/);
    expect(() =>
      parseProjectsFile({ projects: [{ id: "a" }], apiKeys: [{ name: "k", sha256: "abc", projects: ["a"] }] }, "f"),
    ).toThrow(/apiKeys\.0\.sha256/);
    expect(() =>
      parseProjectsFile(
        { projects: [{ id: "a" }], apiKeys: [{ name: "k", sha256: sha256Hex("k"), projects: ["b"] }] },
        "f",
      ),
    ).toThrow(/unknown project "b"/);
    expect(() => parseProjectsFile({ projects: [{ id: "a" }, { id: "a" }], apiKeys: [] }, "f")).toThrow(/twice/);
  });

  it("refuses two API keys with one name, and one key listed twice, naming the key", () => {
    const key = (name: string, secret: string) => ({ name, sha256: sha256Hex(secret), projects: ["a"] });
    expect(() =>
      parseProjectsFile({ projects: [{ id: "a" }], apiKeys: [key("ci", "k1"), key("ci", "k2")] }, "f"),
    ).toThrow('PROJECTS_FILE f: API key name "ci" is used twice; give each key its own name');
    expect(() =>
      parseProjectsFile({ projects: [{ id: "a" }], apiKeys: [key("ci", "k1"), key("cd", "k1")] }, "f"),
    ).toThrow(/API key "cd" has the sha256 of an earlier key/);
    expect(
      parseProjectsFile({ projects: [{ id: "a" }], apiKeys: [key("ci", "k1"), key("cd", "k2")] }, "f").apiKeys,
    ).toHaveLength(2);
  });

  it("takes a positive whole maxOpenUploads, and none (the default) when it is omitted", () => {
    expect(parseProjectsFile({ projects: [{ id: "a", maxOpenUploads: 5 }], apiKeys: [] }, "f").projects[0]).toEqual({
      id: "a",
      maxOpenUploads: 5,
    });
    expect(
      parseProjectsFile({ projects: [{ id: "a" }], apiKeys: [] }, "f").projects[0]?.maxOpenUploads,
    ).toBeUndefined();
    for (const bad of [0, -1, 1.5, "10"]) {
      expect(() => parseProjectsFile({ projects: [{ id: "a", maxOpenUploads: bad }], apiKeys: [] }, "f")).toThrow(
        /projects\.0\.maxOpenUploads/,
      );
    }
  });
});

describe("allowedOrigins", () => {
  it("keeps each project's web origins, normalized, and refuses what is not an origin", () => {
    const withOrigins = new ProjectRegistry(
      parseProjectsFile(
        { projects: [{ id: "a", allowedOrigins: ["HTTPS://App.Example:443/"] }, { id: "b" }], apiKeys: [] },
        "f",
      ),
    );
    expect(withOrigins.allowedOrigins("a")).toEqual(["https://app.example"]);
    expect(withOrigins.allowedOrigins("b")).toEqual([]);
    expect(withOrigins.allowedOrigins("unknown")).toEqual([]);
    expect(() =>
      parseProjectsFile({ projects: [{ id: "a", allowedOrigins: ["https://app.example/upload"] }], apiKeys: [] }, "f"),
    ).toThrow(/projects\.0\.allowedOrigins\.0: "https:\/\/app\.example\/upload" is not an origin/);
  });
});
