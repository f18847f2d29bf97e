import {
  UploadAbortedError,
  UploadFailedError,
  upload,
  type ApiClient,
  type PartState,
  type UploadOptions,
  type UploadTask,
} from "@upload-gateway/client";
import { errorMessage } from "../error-message";
import type { PendingUploads } from "./pending-uploads";

export type UploadStatus = "queued" | "uploading" | "paused" | "cancelling" | "completed" | "failed" | "cancelled";

/** One file in the page's list, as the cards show it. Replaced (never mutated) on every change. */
export interface UploadItem {
  id: string;
  file: File;
  status: UploadStatus;
  /** Known once the upload started, or from the start when it continues an earlier one. */
  requestKey: string | undefined;
  /** Continues an upload started before (after a reload, or a retry). */
  resuming: boolean;
  /** One state per part, part 1 first; empty until the gateway has planned the parts. */
  parts: PartState[];
  bytesSent: number;
  bytesPerSecond: number;
  /** Parts this page sent, once completed (the others were stored before a resume). */
  partsSent: number | undefined;
  error: string | undefined;
}

export interface QueueSession {
  baseUrl: string;
  apiKey: string;
  projectId: string;
}

export interface UploadQueueOptions {
  session: QueueSession;
  api: ApiClient;
  pending: PendingUploads;
  /** Files uploading at once; the others wait their turn. */
  maxActive?: number;
  /** Parts of one file in flight at once. */
  partsInFlight?: number;
  /** Called when an upload completes, fails or is cancelled (to refresh the list of recent uploads). */
  onSettled?: (item: UploadItem) => void;
  /** The uploader; replaced in unit tests. */
  startUpload?: (file: File, options: UploadOptions) => UploadTask;
}

const MiB = 1024 * 1024;
const MIN_PART = 5 * MiB;
const MAX_PART = 5 * 1024 * MiB;
/** Enough parts to watch (and to resume at a fine grain), few enough for the strip to stay readable. */
const TARGET_PARTS = 256;

/** Part size for a file: 5 MiB parts up to ~1.25 GiB, then larger ones so that a file has at most ~256 parts. */
export function partSizeFor(size: number): number {
  const even = Math.ceil(size / TARGET_PARTS / MiB) * MiB;
  return Math.min(MAX_PART, Math.max(MIN_PART, even));
}

const ACTIVE: ReadonlySet<UploadStatus> = new Set(["uploading", "paused", "cancelling"]);

/**
 * The page's uploads: files wait in order and `maxActive` upload at once. A store for `useSyncExternalStore`:
 * every change replaces the snapshot. Unfinished uploads are remembered in `pending` so that a reload can continue them.
 */
export class UploadQueue {
  private items: readonly UploadItem[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly running = new Map<string, { task: UploadTask; cancel: AbortController }>();
  private nextId = 1;
  private readonly startUpload: (file: File, options: UploadOptions) => UploadTask;

  constructor(private readonly options: UploadQueueOptions) {
    this.startUpload = options.startUpload ?? upload;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): readonly UploadItem[] => this.items;

  /** Whether anything is uploading or waiting (a reload now would interrupt it). */
  get busy(): boolean {
    return this.items.some((i) => i.status === "queued" || ACTIVE.has(i.status));
  }

  /**
   * Queues files. A file that an unfinished upload was started for (same name, size and date) continues that upload;
   * `requestKey` names the upload to continue explicitly (the page checked that the file is the same).
   */
  add(files: Iterable<File>, requestKey?: string): void {
    const added: UploadItem[] = [];
    for (const file of files) {
      const key = requestKey ?? this.options.pending.find(this.options.session.projectId, file)?.requestKey;
      const item = this.newItem(file, key);
      if (file.size === 0) {
        Object.assign(item, { status: "failed", error: `“${file.name}” is empty: there is nothing to upload.` });
      } else if (key && this.items.some((i) => i.requestKey === key && (i.status === "queued" || ACTIVE.has(i.status)))) {
        Object.assign(item, { status: "failed", error: `“${file.name}” is already uploading.` });
      }
      added.push(item);
    }
    this.items = [...this.items, ...added];
    this.emit();
    this.pump();
  }

  pause(id: string): void {
    const run = this.running.get(id);
    const item = this.get(id);
    if (!run || item?.status !== "uploading") return;
    // Parts in flight finish (and show as done); no other part starts until resume.
    run.task.pause();
    this.update(id, { status: "paused", bytesPerSecond: 0 });
  }

  resume(id: string): void {
    const run = this.running.get(id);
    if (!run || this.get(id)?.status !== "paused") return;
    run.task.resume();
    this.update(id, { status: "uploading" });
  }

  /** Stops the upload and aborts it on the gateway (its stored parts are deleted). */
  cancel(id: string): void {
    const item = this.get(id);
    if (!item) return;
    if (item.status === "queued") {
      // Not started here; if it continues an earlier upload, that one is cancelled on the gateway too.
      if (item.requestKey) this.abortOnGateway(item.requestKey);
      this.update(id, { status: "cancelled" });
      return;
    }
    const run = this.running.get(id);
    if (!run || !ACTIVE.has(item.status) || item.status === "cancelling") return;
    this.update(id, { status: "cancelling", bytesPerSecond: 0 });
    run.task.resume(); // a paused upload must wake up to notice the cancel
    run.cancel.abort();
  }

  /** Tries a failed upload again, continuing it where it stopped when it had started. */
  retry(id: string): void {
    const item = this.get(id);
    if (item?.status !== "failed" || item.file.size === 0) return;
    this.update(id, { status: "queued", error: undefined, resuming: item.requestKey !== undefined, bytesPerSecond: 0 });
    this.pump();
  }

  /** Removes a finished card from the list. */
  dismiss(id: string): void {
    const item = this.get(id);
    if (!item || item.status === "queued" || ACTIVE.has(item.status)) return;
    this.items = this.items.filter((i) => i.id !== id);
    this.emit();
  }

  private newItem(file: File, requestKey: string | undefined): UploadItem {
    return {
      id: `u${this.nextId++}`,
      file,
      status: "queued",
      requestKey,
      resuming: requestKey !== undefined,
      parts: [],
      bytesSent: 0,
      bytesPerSecond: 0,
      partsSent: undefined,
      error: undefined,
    };
  }

  private pump(): void {
    const maxActive = this.options.maxActive ?? 2;
    for (const item of this.items) {
      if (this.running.size >= maxActive) return;
      if (item.status === "queued") this.run(item);
    }
  }

  private run(item: UploadItem): void {
    const { session, pending } = this.options;
    const { id, file } = item;
    const cancel = new AbortController();
    this.update(id, { status: "uploading", parts: [], bytesSent: 0 });
    const task = this.startUpload(file, {
      baseUrl: session.baseUrl,
      apiKey: session.apiKey,
      projectId: session.projectId,
      concurrency: this.options.partsInFlight ?? 4,
      partSize: partSizeFor(file.size),
      requestKey: item.requestKey,
      signal: cancel.signal,
      onStart: ({ requestKey, partsTotal }) => {
        pending.save({
          requestKey,
          projectId: session.projectId,
          name: file.name,
          size: file.size,
          lastModified: file.lastModified,
          partsTotal,
          startedAt: new Date().toISOString(),
        });
        this.update(id, { requestKey, parts: Array<PartState>(partsTotal).fill("waiting") });
      },
      onPartState: (partNumber, state) => {
        const current = this.get(id);
        if (!current) return;
        const parts = current.parts.slice();
        parts[partNumber - 1] = state;
        this.update(id, { parts });
      },
      onProgress: ({ bytesSent, bytesPerSecond }) => {
        const current = this.get(id);
        this.update(id, { bytesSent, bytesPerSecond: current?.status === "uploading" ? bytesPerSecond : 0 });
      },
    });
    this.running.set(id, { task, cancel });
    task.then(
      (result) => {
        pending.remove(result.requestKey);
        this.finish(id, { status: "completed", bytesSent: result.size, bytesPerSecond: 0, partsSent: result.partsSent });
      },
      (error: unknown) => {
        if (error instanceof UploadAbortedError) {
          if (error.requestKey) pending.remove(error.requestKey);
          this.finish(id, { status: "cancelled", bytesPerSecond: 0 });
        } else {
          // Kept in `pending`: what was stored is not lost, and the card (or a reload) can continue it.
          const requestKey = (error instanceof UploadFailedError ? error.requestKey : undefined) ?? this.get(id)?.requestKey;
          this.finish(id, { status: "failed", bytesPerSecond: 0, requestKey, error: errorMessage(error) });
        }
      },
    );
  }

  private finish(id: string, change: Partial<UploadItem>): void {
    this.running.delete(id);
    this.update(id, change);
    const item = this.get(id);
    if (item) this.options.onSettled?.(item);
    this.pump();
  }

  private abortOnGateway(requestKey: string): void {
    this.options.pending.remove(requestKey);
    this.options.api.abort(this.options.session.projectId, requestKey).catch(() => undefined);
  }

  private get(id: string): UploadItem | undefined {
    return this.items.find((i) => i.id === id);
  }

  private update(id: string, change: Partial<UploadItem>): void {
    this.items = this.items.map((i) => (i.id === id ? { ...i, ...change } : i));
    this.emit();
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }
}
