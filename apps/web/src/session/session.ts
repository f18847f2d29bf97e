import { createApiClient } from "@upload-gateway/client";
import { devContract, type DevSession } from "@upload-gateway/contract";
import { errorMessage } from "@upload-gateway/react";

/** Who the page uploads as: the gateway it is served by, a project and its key. */
export interface Session {
  baseUrl: string;
  projectId: string;
  apiKey: string;
  /** "dev": handed out by a gateway in dev mode; "entered": typed by the user, kept for this tab only. */
  source: "dev" | "entered";
}

const KEY = "upload-gateway:session";

/**
 * The session to start with: one entered earlier in this tab, else the dev session of a gateway in dev mode, else
 * none (the page then asks for a project and key).
 */
export async function initialSession(
  baseUrl: string,
  storage: Pick<Storage, "getItem"> = sessionStorage,
): Promise<Session | null> {
  const entered = readEntered(baseUrl, storage);
  if (entered) return entered;
  return fetchDevSession(baseUrl);
}

async function fetchDevSession(baseUrl: string): Promise<Session | null> {
  try {
    const response = await fetch(`${baseUrl}${devContract.session.path}`, { headers: { accept: "application/json" } });
    if (!response.ok) return null; // 404 outside dev mode
    const body = (await response.json()) as { success?: boolean; result?: Partial<DevSession> };
    const { projectId, apiKey } = body.result ?? {};
    if (body.success !== true || typeof projectId !== "string" || typeof apiKey !== "string") return null;
    return { baseUrl, projectId, apiKey, source: "dev" };
  } catch {
    return null; // an older gateway, or none: ask
  }
}

function readEntered(baseUrl: string, storage: Pick<Storage, "getItem">): Session | null {
  try {
    const saved = JSON.parse(storage.getItem(KEY) ?? "null") as { projectId?: unknown; apiKey?: unknown } | null;
    if (typeof saved?.projectId === "string" && typeof saved.apiKey === "string") {
      return { baseUrl, projectId: saved.projectId, apiKey: saved.apiKey, source: "entered" };
    }
  } catch {
    // unreadable: ask again
  }
  return null;
}

/**
 * Checks a project and key with the gateway (one list call) and keeps them for this tab. Resolves to the session,
 * or rejects with a sentence to show.
 */
export async function signIn(
  baseUrl: string,
  projectId: string,
  apiKey: string,
  storage: Pick<Storage, "setItem"> = sessionStorage,
): Promise<Session> {
  const project = projectId.trim();
  const key = apiKey.trim();
  if (!project) throw new Error("Enter the project's id.");
  if (!key) throw new Error("Enter the API key.");
  try {
    await createApiClient({ baseUrl, apiKey: key }).list(project, { limit: 1 });
  } catch (error) {
    throw new Error(errorMessage(error));
  }
  storage.setItem(KEY, JSON.stringify({ projectId: project, apiKey: key }));
  return { baseUrl, projectId: project, apiKey: key, source: "entered" };
}

export function signOut(storage: Pick<Storage, "removeItem"> = sessionStorage): void {
  storage.removeItem(KEY);
}
