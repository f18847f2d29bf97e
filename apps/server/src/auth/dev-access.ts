import { isDevMode, type AppConfig } from "../config/app-config";
import { persistentSecret, randomSecret } from "../storage/local-secrets";
import { sha256Hex } from "./project-registry";
import type { ProjectsFile } from "./projects-file";

/** The zero-config project: with local storage on loopback and no projects file, project `demo` and one key. */
export interface DevAccess {
  projectId: string;
  apiKey: string;
}

export const DEV_PROJECT_ID = "demo";

/** The dev project's key (`DEV_API_KEY`, or one generated once and kept in the data dir), or null outside dev mode. */
export function resolveDevAccess(config: AppConfig): DevAccess | null {
  if (!isDevMode(config)) return null;
  const generate = () => `dev_${randomSecret(24)()}`;
  const apiKey = config.DEV_API_KEY ?? persistentSecret(config.LOCAL_STORAGE_DIR, "dev-api-key", generate);
  return { projectId: DEV_PROJECT_ID, apiKey };
}

export function devProjectsFile(access: DevAccess): ProjectsFile {
  return {
    projects: [{ id: access.projectId }],
    apiKeys: [{ name: "dev", sha256: sha256Hex(access.apiKey), projects: [access.projectId] }],
  };
}
