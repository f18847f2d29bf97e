import { UploadGatewayError } from "@upload-gateway/client";
import { useEffect, useMemo, useState } from "react";
import { errorMessage } from "./error-message";
import { formatBytes } from "./format-bytes";
import { sameFile, type PendingUpload } from "./pending-uploads";
import type { UploadQueueHandle } from "./use-upload-queue";

export interface InterruptedUpload {
  upload: PendingUpload;
  /** What the gateway holds of it, once asked. */
  stored?: { parts: number; bytes: number };
  /** Why it could not be asked, or why a file chosen for it was refused (a sentence). */
  error?: string;
}

export interface InterruptedUploads {
  /** Unfinished uploads of this project that the queue does not hold: interrupted by a reload, a crash, a closed tab. */
  uploads: InterruptedUpload[];
  /** Continues `upload` with `file` in the queue when it is the same file (name, size, date); else says why not. */
  continueWith(upload: PendingUpload, file: File): void;
  /** Aborts the upload on the gateway (its stored parts are deleted) and forgets it. */
  discard(upload: PendingUpload): Promise<void>;
}

/**
 * Uploads that were started in this browser and never finished. A page cannot keep a file across a reload, so these
 * wait for the same file to be chosen again; then only the parts the gateway does not have are sent. Each is checked
 * on the gateway once: those completed or aborted meanwhile (or unknown to it) are forgotten.
 */
export function useInterruptedUploads({
  queue,
  items,
}: Pick<UploadQueueHandle, "queue" | "items">): InterruptedUploads {
  const { client, projectId, pending } = queue;
  // Listed at once; what the gateway holds of each follows (client, project and storage are the queue's, fixed).
  const [checked, setChecked] = useState<InterruptedUpload[]>(
    () => pending?.list(projectId).map((upload) => ({ upload })) ?? [],
  );

  useEffect(() => {
    if (!pending) return;
    let live = true;
    const uploads = pending.list(projectId);
    void Promise.all(
      uploads.map(async (upload): Promise<InterruptedUpload | undefined> => {
        try {
          const details = await client.get(projectId, upload.requestKey);
          if (details.state !== "uploading") {
            pending.remove(upload.requestKey);
            return undefined;
          }
          const bytes = details.uploadedParts.reduce((sum, p) => sum + p.size, 0);
          return { upload, stored: { parts: details.uploadedParts.length, bytes } };
        } catch (error) {
          if (error instanceof UploadGatewayError && error.status === 404) {
            pending.remove(upload.requestKey);
            return undefined;
          }
          return { upload, error: errorMessage(error) };
        }
      }),
    ).then((all) => {
      if (live) setChecked(all.filter((o): o is InterruptedUpload => o !== undefined));
    });
    return () => {
      live = false;
    };
  }, [client, projectId, pending]);

  // Read the storage again when the queue's uploads change: one continued here and completed must not come back.
  const keyList = items.flatMap((i) => (i.requestKey ? [i.requestKey] : [])).join(" ");
  const stillPending = useMemo(
    () => new Set(pending?.list(projectId).map((p) => p.requestKey)),
    // eslint-disable-next-line react-hooks/exhaustive-deps -- keyList is the signal that the storage changed
    [pending, projectId, keyList],
  );
  const inQueue = new Set(keyList.split(" "));
  const uploads = checked.filter((o) => !inQueue.has(o.upload.requestKey) && stillPending.has(o.upload.requestKey));

  const setError = (upload: PendingUpload, error: string) =>
    setChecked((all) => all.map((o) => (o.upload.requestKey === upload.requestKey ? { ...o, error } : o)));

  return {
    uploads,
    continueWith: (upload, file) => {
      if (!sameFile(upload, file)) {
        setError(
          upload,
          `That is not the same file: “${file.name}” (${formatBytes(file.size)}) was chosen, but the interrupted upload is ` +
            `“${upload.name}” (${formatBytes(upload.size)}, last modified ${new Date(upload.lastModified).toLocaleString()}).`,
        );
        return;
      }
      queue.add([file], upload.requestKey);
    },
    discard: async (upload) => {
      try {
        await client.abort(projectId, upload.requestKey);
      } catch (error) {
        // Already gone (completed, aborted or expired) is what discarding wants anyway.
        if (!(error instanceof UploadGatewayError && (error.status === 404 || error.status === 409))) {
          setError(upload, errorMessage(error));
          return;
        }
      }
      pending?.remove(upload.requestKey);
      setChecked((all) => all.filter((o) => o.upload.requestKey !== upload.requestKey));
    },
  };
}
