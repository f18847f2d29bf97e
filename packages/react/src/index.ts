export { useUpload, type UploadHandle, type UseUploadOptions } from "./use-upload";
export { useUploadQueue, type UploadQueueHandle } from "./use-upload-queue";
export { useInterruptedUploads, type InterruptedUpload, type InterruptedUploads } from "./use-interrupted-uploads";
export {
  UploadQueue,
  partSizeFor,
  type UploadDefaults,
  type UploadItem,
  type UploadQueueOptions,
  type UploadStatus,
} from "./upload-queue";
export {
  PendingUploads,
  browserPendingUploads,
  sameFile,
  type FileIdentity,
  type KeyValueStore,
  type PendingUpload,
} from "./pending-uploads";
export { errorMessage } from "./error-message";
export { formatBytes } from "./format-bytes";
export type { MediaFacts, Verification } from "@upload-gateway/client";
