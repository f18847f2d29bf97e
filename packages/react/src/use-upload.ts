import { useState } from "react";
import type { UploadItem, UploadQueueOptions, UploadStatus } from "./upload-queue";
import { useUploadQueue } from "./use-upload-queue";

export type UseUploadOptions = Omit<UploadQueueOptions, "maxActive">;

export interface UploadHandle {
  /** `idle` before the first `start` and after `reset`. */
  status: UploadStatus | "idle";
  /** The upload: file, request key, per-part states and bytes, bytes sent, speed, error. Undefined while idle. */
  upload: UploadItem | undefined;
  /**
   * Uploads `file`, replacing a finished upload. A file whose upload was interrupted (same name, size and date, e.g.
   * before a reload) continues it; `requestKey` names the upload to continue explicitly. Throws while an upload is
   * under way: cancel it first.
   */
  start(file: File, requestKey?: string): void;
  pause(): void;
  resume(): void;
  /** Stops the upload and aborts it on the gateway (its stored parts are deleted). */
  cancel(): void;
  /** Tries a failed upload again, continuing where it stopped. */
  retry(): void;
  /** Back to `idle` once the upload is finished (completed, failed or cancelled). */
  reset(): void;
}

const ACTIVE: ReadonlySet<UploadStatus | "idle"> = new Set(["queued", "uploading", "paused", "cancelling"]);

/** One upload at a time: a queue of one file (see `useUploadQueue`, whose options it takes). */
export function useUpload(options: UseUploadOptions): UploadHandle {
  const { items, queue } = useUploadQueue({ ...options, maxActive: 1 });
  const [currentId, setCurrentId] = useState<string>();
  const upload = items.find((i) => i.id === currentId);
  const status = upload?.status ?? "idle";
  const act = (action: (id: string) => void) => () => {
    if (upload) action(upload.id);
  };
  return {
    status,
    upload,
    start: (file, requestKey) => {
      if (ACTIVE.has(status))
        throw new Error(`“${upload!.file.name}” is still uploading: cancel it before starting another.`);
      if (upload) queue.dismiss(upload.id);
      queue.add([file], requestKey);
      setCurrentId(queue.getSnapshot().at(-1)!.id);
    },
    pause: act((id) => queue.pause(id)),
    resume: act((id) => queue.resume(id)),
    cancel: act((id) => queue.cancel(id)),
    retry: act((id) => queue.retry(id)),
    reset: () => {
      if (ACTIVE.has(status)) return;
      if (upload) queue.dismiss(upload.id);
      setCurrentId(undefined);
    },
  };
}
