export {
  createApiClient,
  type ApiClient,
  type ApiClientOptions,
  type DownloadResult,
  type RequestOptions,
  type StartOptions,
} from "./api-client";
export {
  ContentRejectedError,
  CorsRefusedError,
  FileChangedError,
  NetworkError,
  UploadAbortedError,
  UploadFailedError,
  UploadGatewayError,
} from "./errors";
export type { UploadSource } from "./upload-source";
export {
  upload,
  planForUpload,
  type PartState,
  type UploadOptions,
  type UploadResult,
  type UploadTask,
} from "./uploader";
export type { UploadProgress } from "./progress";
export { fetchTransport, xhrTransport, type PartTransport, type PartRequest, type PartResponse } from "./transport";
export { md5Hasher, type PartHasher } from "./part-hash";
export type { RetryPolicy } from "./retry";
export type { RetryNotice, Unreachable } from "./retry-budget";
export { describeVerification, formatMediaDuration, mediaFactsOf, type MediaFactsText } from "./verification-summary";
export type { MediaFacts, Verification, VerificationFailureCode } from "@upload-gateway/contract";
