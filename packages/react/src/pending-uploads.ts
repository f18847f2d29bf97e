/** What identifies a picked file well enough to continue its upload after a reload (the bytes cannot be kept). */
export interface FileIdentity {
  name: string;
  size: number;
  lastModified: number;
}

/** An upload that started and has not finished: enough to offer to continue it, and to check the file picked for it. */
export interface PendingUpload extends FileIdentity {
  requestKey: string;
  projectId: string;
  partsTotal: number;
  startedAt: string;
}

/** The part of `Storage` used here, so that tests can pass a Map-backed one. */
export type KeyValueStore = Pick<Storage, "getItem" | "setItem">;

const KEY = "upload-gateway:pending-uploads";

export function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.name === b.name && a.size === b.size && a.lastModified === b.lastModified;
}

/** Unfinished uploads kept in `localStorage`, so that a reload, a crash or a closed tab can pick them up. */
export class PendingUploads {
  constructor(private readonly store: KeyValueStore) {}

  list(projectId: string): PendingUpload[] {
    return this.all().filter((p) => p.projectId === projectId);
  }

  /** The unfinished upload of this very file in this project, if any. */
  find(projectId: string, file: FileIdentity): PendingUpload | undefined {
    return this.list(projectId).find((p) => sameFile(p, file));
  }

  save(upload: PendingUpload): void {
    this.write([...this.all().filter((p) => p.requestKey !== upload.requestKey), upload]);
  }

  remove(requestKey: string): void {
    this.write(this.all().filter((p) => p.requestKey !== requestKey));
  }

  private all(): PendingUpload[] {
    try {
      const parsed: unknown = JSON.parse(this.store.getItem(KEY) ?? "[]");
      return Array.isArray(parsed) ? parsed.filter(isPendingUpload) : [];
    } catch {
      return []; // unreadable (edited by hand, or another version's format): start afresh rather than break the page
    }
  }

  private write(uploads: PendingUpload[]): void {
    try {
      this.store.setItem(KEY, JSON.stringify(uploads));
    } catch {
      // Storage full or disabled (private mode): the upload goes on; only continuing after a reload is lost.
    }
  }
}

/** Unfinished uploads in this browser's `localStorage`; undefined where there is none (a server render, a worker) or it
 * is refused (some private modes throw on access). */
export function browserPendingUploads(): PendingUploads | undefined {
  try {
    const store = (globalThis as { localStorage?: KeyValueStore }).localStorage;
    return store ? new PendingUploads(store) : undefined;
  } catch {
    return undefined;
  }
}

function isPendingUpload(value: unknown): value is PendingUpload {
  const v = value as Partial<PendingUpload> | null;
  return (
    typeof v?.requestKey === "string" &&
    typeof v.projectId === "string" &&
    typeof v.name === "string" &&
    typeof v.size === "number" &&
    typeof v.lastModified === "number" &&
    typeof v.partsTotal === "number"
  );
}
