import {
  ContentRejectedError,
  createApiClient,
  UploadAbortedError,
  UploadFailedError,
  upload,
  type ApiClient,
  type PartState,
  type UploadOptions,
  type UploadTask,
  type Verification,
} from "@upload-gateway/client";
import { errorMessage } from "./error-message";
import { browserPendingUploads, type PendingUploads } from "./pending-uploads";

export { partSizeFor } from "./part-size";

export type UploadStatus = "queued" | "uploading" | "paused" | "cancelling" | "completed" | "failed" | "cancelled";

/** One file in the queue, as a view shows it. Replaced (never mutated) on every change. */
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
  /** Bytes of each part stored or on their way, part 1 first (updated with `bytesSent`, a few times a second). */
  partBytes: number[];
  /** Planned size of every part but the last (0 until planned). */
  partSize: number;
  bytesSent: number;
  bytesPerSecond: number;
  /** Parts this queue sent, once completed (the others were stored before a resume). */
  partsSent: number | undefined;
  /**
   * What the gateway's content check found in the stored file: on a completed upload, its detected type and, for
   * audio and video, the media facts (`media`: duration, width, height, codecs…); on one it refused, why (`reason`,
   * `code`) when the gateway could say. Undefined from a gateway that does not check content.
   */
  verification: Verification | undefined;
  /**
   * Set when the gateway's content check refused the file (`ContentRejectedError`): why, in plain words ("declared
   * video/mp4, found an HTML page (text/html)"). The upload is `failed` and over for good: `retry` does nothing.
   */
  rejection: string | undefined;
  /** A sentence for people (see `errorMessage`), once failed. */
  error: string | undefined;
  /** What failed, for code: an `UploadFailedError`, `UploadGatewayError`, …. */
  cause: unknown;
}

/** What every upload of the queue shares: where the gateway is and how to send. Per-file options are the queue's. */
export type UploadDefaults = Omit<
  UploadOptions,
  | "requestKey"
  | "signal"
  | "onStart"
  | "onProgress"
  | "onPartState"
  | "onPartProgress"
  | "fileName"
  | "mimeType"
  | "fileHash"
  | "partSize"
>;

export interface UploadQueueOptions extends UploadDefaults {
  /**
   * Unfinished uploads, remembered so that adding the same file again (after a reload, a crash or a closed tab)
   * continues its upload. Default: in `localStorage` where there is one; `false` to remember nothing.
   */
  pending?: PendingUploads | false;
  /** Files uploading at once; the others wait their turn (default 2). */
  maxActive?: number;
  /** Largest part wanted, in bytes, or a function of the file's size (see `partSizeFor`). The client's default when
   * omitted. */
  partSize?: number | ((fileSize: number) => number);
  /** Called when an upload completes, fails or is cancelled. */
  onSettled?: (item: UploadItem) => void;
  /** The uploader; replaced in unit tests. */
  startUpload?: (file: File, options: UploadOptions) => UploadTask;
}

const PART_BYTES_EVERY_MS = 100;

const ACTIVE: ReadonlySet<UploadStatus> = new Set(["uploading", "paused", "cancelling"]);

/**
 * Uploads of many files: files wait in order and `maxActive` upload at once, each through the client's `upload()`.
 * A store for `useSyncExternalStore` (see `useUploadQueue`): every change replaces the snapshot. Unfinished uploads are
 * remembered in `pending` so that a reload can continue them.
 */
export class UploadQueue {
  private items: readonly UploadItem[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly running = new Map<string, { task: UploadTask; cancel: AbortController }>();
  private nextId = 1;
  private readonly startUpload: (file: File, options: UploadOptions) => UploadTask;
  readonly client: ApiClient;
  readonly pending: PendingUploads | undefined;
  private onSettled: ((item: UploadItem) => void) | undefined;

  constructor(private readonly options: UploadQueueOptions) {
    this.startUpload = options.startUpload ?? upload;
    if (options.client) this.client = options.client;
    else if (options.baseUrl && options.apiKey) {
      this.client = createApiClient({ baseUrl: options.baseUrl, apiKey: options.apiKey, fetch: options.fetch });
    } else throw new TypeError("An upload queue needs `client`, or `baseUrl` and `apiKey`");
    this.pending = options.pending === false ? undefined : (options.pending ?? browserPendingUploads());
    this.onSettled = options.onSettled;
  }

  /** Replaces `onSettled` (a component's callback changes with every render). */
  setSettledListener(listener: ((item: UploadItem) => void) | undefined): void {
    this.onSettled = listener;
  }

  get projectId(): string {
    return this.options.projectId;
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
      const key = requestKey ?? this.pending?.find(this.projectId, file)?.requestKey;
      const item = this.newItem(file, key);
      if (file.size === 0) {
        Object.assign(item, { status: "failed", error: `“${file.name}” is empty: there is nothing to upload.` });
      } else if (
        key &&
        this.items.some((i) => i.requestKey === key && (i.status === "queued" || ACTIVE.has(i.status)))
      ) {
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

  /**
   * Tries a failed upload again, continuing it where it stopped when it had started. Not one the gateway's content
   * check refused (`rejection`): the same bytes would be refused again.
   */
  retry(id: string): void {
    const item = this.get(id);
    if (item?.status !== "failed" || item.file.size === 0 || item.rejection !== undefined) return;
    this.update(id, {
      status: "queued",
      error: undefined,
      cause: undefined,
      resuming: item.requestKey !== undefined,
      bytesPerSecond: 0,
    });
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
      partBytes: [],
      partSize: 0,
      bytesSent: 0,
      bytesPerSecond: 0,
      partsSent: undefined,
      verification: undefined,
      rejection: undefined,
      error: undefined,
      cause: undefined,
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
    const { pending, projectId } = this;
    const {
      pending: _pending,
      maxActive: _maxActive,
      partSize,
      onSettled: _onSettled,
      startUpload: _startUpload,
      ...defaults
    } = this.options;
    const { id, file } = item;
    const cancel = new AbortController();
    // Per-part bytes change with every chunk sent: kept here and published with the (throttled) progress events.
    let partBytes: number[] = [];
    let publishPartBytes: ReturnType<typeof setTimeout> | undefined;
    this.update(id, { status: "uploading", parts: [], partBytes: [], bytesSent: 0 });
    const task = this.startUpload(file, {
      ...defaults,
      client: this.client,
      partSize: typeof partSize === "function" ? partSize(file.size) : partSize,
      requestKey: item.requestKey,
      signal: cancel.signal,
      onStart: ({ requestKey, partsTotal, partSize }) => {
        pending?.save({
          requestKey,
          projectId,
          name: file.name,
          size: file.size,
          lastModified: file.lastModified,
          partsTotal,
          startedAt: new Date().toISOString(),
        });
        partBytes = Array<number>(partsTotal).fill(0);
        this.update(id, {
          requestKey,
          partSize,
          parts: Array<PartState>(partsTotal).fill("waiting"),
          partBytes: partBytes.slice(),
        });
      },
      onPartState: (partNumber, state) => {
        const current = this.get(id);
        if (!current) return;
        const parts = current.parts.slice();
        parts[partNumber - 1] = state;
        this.update(id, { parts });
      },
      onPartProgress: (partNumber, bytes) => {
        partBytes[partNumber - 1] = bytes;
        // Published at most every 100 ms (a PUT reports every chunk); `onProgress` publishes them too.
        publishPartBytes ??= setTimeout(() => {
          publishPartBytes = undefined;
          if (this.running.has(id)) this.update(id, { partBytes: partBytes.slice() });
        }, PART_BYTES_EVERY_MS);
      },
      onProgress: ({ bytesSent, bytesPerSecond }) => {
        const current = this.get(id);
        this.update(id, {
          bytesSent,
          partBytes: partBytes.slice(),
          bytesPerSecond: current?.status === "uploading" ? bytesPerSecond : 0,
        });
      },
    });
    this.running.set(id, { task, cancel });
    task.then(
      (result) => {
        clearTimeout(publishPartBytes);
        pending?.remove(result.requestKey);
        this.finish(id, {
          status: "completed",
          bytesSent: result.size,
          bytesPerSecond: 0,
          partsSent: result.partsSent,
          partBytes: partBytes.slice(),
          verification: result.verification,
        });
      },
      (error: unknown) => {
        clearTimeout(publishPartBytes);
        if (error instanceof UploadAbortedError) {
          if (error.requestKey) pending?.remove(error.requestKey);
          this.finish(id, { status: "cancelled", bytesPerSecond: 0 });
        } else if (error instanceof ContentRejectedError) {
          // Rejected on the gateway, its file removed: nothing to continue, after a reload or otherwise.
          const requestKey = error.requestKey ?? this.get(id)?.requestKey;
          if (requestKey) pending?.remove(requestKey);
          this.finish(id, {
            status: "failed",
            bytesPerSecond: 0,
            requestKey,
            verification: error.verification,
            rejection: error.reason,
            error: errorMessage(error),
            cause: error,
          });
        } else {
          // Kept in `pending`: what was stored is not lost, and a retry (or a reload) can continue it.
          const requestKey =
            (error instanceof UploadFailedError ? error.requestKey : undefined) ?? this.get(id)?.requestKey;
          this.finish(id, {
            status: "failed",
            bytesPerSecond: 0,
            requestKey,
            error: errorMessage(error),
            cause: error,
          });
        }
      },
    );
  }

  private finish(id: string, change: Partial<UploadItem>): void {
    this.running.delete(id);
    this.update(id, change);
    const item = this.get(id);
    if (item) this.onSettled?.(item);
    this.pump();
  }

  private abortOnGateway(requestKey: string): void {
    this.pending?.remove(requestKey);
    this.client.abort(this.projectId, requestKey).catch(() => undefined);
  }

  /** The item `id` as it is now. */
  get(id: string): UploadItem | undefined {
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
