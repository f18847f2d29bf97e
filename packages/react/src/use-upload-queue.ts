import { useEffect, useState, useSyncExternalStore } from "react";
import { UploadQueue, type UploadItem, type UploadQueueOptions } from "./upload-queue";

export interface UploadQueueHandle {
  /** Every file added, in order, as it is now (a new array on every change). */
  items: readonly UploadItem[];
  /** Whether anything is uploading or waiting (leaving the page now would interrupt it). */
  busy: boolean;
  /** Queues files; a file whose upload was interrupted before (same name, size, date) continues it. `requestKey` names
   * the upload to continue explicitly. */
  add(files: Iterable<File>, requestKey?: string): void;
  pause(id: string): void;
  resume(id: string): void;
  /** Stops the upload and aborts it on the gateway (its stored parts are deleted). */
  cancel(id: string): void;
  /** Tries a failed upload again, continuing where it stopped. */
  retry(id: string): void;
  /** Removes a finished item. */
  dismiss(id: string): void;
  /** The store behind the hook (its client, project and pending uploads). */
  queue: UploadQueue;
}

/**
 * Uploads many files, `maxActive` at once, with each file's state, per-part states and bytes, speed, pause, resume,
 * cancel and retry. Unfinished uploads are remembered (in `localStorage` unless `pending` says otherwise): adding the
 * same file after a reload sends only its missing parts.
 *
 * The options are read once, when the component mounts (the queue outlives re-renders), except `onSettled`, which is
 * always the latest. To upload elsewhere (another project, key or gateway), give the component a new `key`.
 * Uploads go on if the component unmounts (unmounting must not delete what was stored): cancel them first if that is
 * what leaving means.
 */
export function useUploadQueue(options: UploadQueueOptions): UploadQueueHandle {
  const [queue] = useState(() => new UploadQueue(options));
  const { onSettled } = options;
  useEffect(() => queue.setSettledListener(onSettled), [queue, onSettled]);
  const items = useSyncExternalStore(queue.subscribe, queue.getSnapshot, queue.getSnapshot);
  return {
    items,
    busy: queue.busy,
    add: (files, requestKey) => queue.add(files, requestKey),
    pause: (id) => queue.pause(id),
    resume: (id) => queue.resume(id),
    cancel: (id) => queue.cancel(id),
    retry: (id) => queue.retry(id),
    dismiss: (id) => queue.dismiss(id),
    queue,
  };
}
