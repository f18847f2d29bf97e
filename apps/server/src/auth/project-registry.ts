import { createHash, timingSafeEqual } from "node:crypto";
import type { ApiKeyEntry, Project, ProjectsFile } from "./projects-file";

export type AccessDecision =
  | { ok: true; project: Project; keyName: string; keyDigest: string }
  | { ok: false; code: "UNAUTHORIZED" | "FORBIDDEN" | "PROJECT_NOT_FOUND" };

interface KeyDigest {
  entry: ApiKeyEntry;
  digest: Buffer;
}

/** Who may use which project. Keys are stored and compared only as SHA-256 digests, in constant time. */
export class ProjectRegistry {
  private readonly projects: Map<string, Project>;
  private readonly keys: KeyDigest[];

  constructor(file: ProjectsFile) {
    this.projects = new Map(file.projects.map((p) => [p.id, p]));
    this.keys = file.apiKeys.map((entry) => ({ entry, digest: Buffer.from(entry.sha256, "hex") }));
  }

  /** Decides whether the `Authorization` header value grants access to `projectId`. */
  authorize(authorization: string | undefined, projectId: string): AccessDecision {
    const key = bearerToken(authorization);
    const entry = key === undefined ? undefined : this.findKey(key);
    if (!entry) return { ok: false, code: "UNAUTHORIZED" };
    const project = this.projects.get(projectId);
    if (!project) return { ok: false, code: "PROJECT_NOT_FOUND" };
    if (!entry.projects.includes("*") && !entry.projects.includes(projectId)) return { ok: false, code: "FORBIDDEN" };
    return { ok: true, project, keyName: entry.name, keyDigest: entry.sha256 };
  }

  /** The project with this id, if the projects file has it. */
  project(projectId: string): Project | undefined {
    return this.projects.get(projectId);
  }

  /** The web origins the projects file allows on `projectId`'s routes (none for an unknown project). */
  allowedOrigins(projectId: string): readonly string[] {
    return this.projects.get(projectId)?.allowedOrigins ?? [];
  }

  private findKey(key: string): ApiKeyEntry | undefined {
    const digest = createHash("sha256").update(key, "utf8").digest();
    // Compare against every key, without stopping at a match, so timing says nothing about which key matched.
    let found: ApiKeyEntry | undefined;
    for (const candidate of this.keys) {
      if (timingSafeEqual(candidate.digest, digest) && !found) found = candidate.entry;
    }
    return found;
  }
}

/** The credential of an `Authorization: Bearer <credential>` header. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? "");
  return match?.[1];
}

export function sha256Hex(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}
