import type { ApiClient } from "@upload-gateway/client";

/** A file as the completion step reads it from Uppy 6's state. */
interface UppyFileState {
  id: string;
  error?: string | null;
  progress?: { uploadComplete?: boolean };
  response?: { uploadURL?: string };
}

/**
 * The parts of a Uppy 6 instance (`@uppy/core` 6) the options use: a post-processing step, and the file state it
 * reads and updates. Typed by shape, so that the package does not bind to one major's `@uppy/core` types.
 */
export interface UppyForGateway {
  addPostProcessor(fn: (fileIDs: string[], uploadID: string) => Promise<void>): void;
  getFile(fileID: string): UppyFileState | undefined;
  setFileState(fileID: string, state: { uploadURL?: string; response?: UppyFileState["response"] }): void;
  /** Given the file `getFile` returned (typed `never` so that any major's generic `emit` fits). */
  emit(event: "upload-error", file: never, error: Error): void;
  on(event: "file-removed", callback: (file: { id: string }) => void): unknown;
}

/**
 * Completes single-PUT uploads after Uppy 6 has sent their bytes: `POST /success/{requestKey}` (the gateway checks
 * the store holds the file at its size), and the file's `uploadURL` becomes the time-limited download URL. A file the
 * gateway does not confirm fails (`upload-error`), so it is not reported uploaded. `singlePuts` maps Uppy file ids to
 * request keys; the signer adds to it, this step removes what it completed or aborted.
 */
export function completeSinglePuts(
  uppy: UppyForGateway,
  client: ApiClient,
  projectId: string,
  singlePuts: Map<string, string>,
  abort: (requestKey: string) => Promise<void>,
): void {
  // A file removed before its single PUT was completed: its upload will never be, so it is aborted (deleting the
  // file if the PUT stored it) instead of staying open on the gateway.
  uppy.on("file-removed", (file) => {
    const requestKey = singlePuts.get(file.id);
    if (requestKey === undefined) return;
    singlePuts.delete(file.id);
    abort(requestKey).catch(() => undefined);
  });
  uppy.addPostProcessor(async (fileIDs) => {
    await Promise.all(
      fileIDs.map(async (fileID) => {
        const requestKey = singlePuts.get(fileID);
        const file = uppy.getFile(fileID);
        // Not a single PUT of these options, removed, or failed (a retry signs a new upload): nothing to complete.
        if (requestKey === undefined || !file || file.error || !file.progress?.uploadComplete) return;
        try {
          const { downloadPath } = await client.downloadUrl(projectId, requestKey);
          singlePuts.delete(fileID);
          const response = { ...file.response, uploadURL: downloadPath };
          uppy.setFileState(fileID, { uploadURL: downloadPath, response });
        } catch (error) {
          uppy.emit("upload-error", file as never, error instanceof Error ? error : new Error(String(error)));
        }
      }),
    );
  });
}
