import { initContract } from "@ts-rest/core";
import { devContract } from "./dev.contract";
import { healthContract } from "./health.contract";
import { uploadTokensContract } from "./upload-tokens.contract";
import { z } from "zod";
import { successEnvelope } from "./envelope";
import { errorResponses } from "./route-errors";
import type { ErrorCode } from "./errors";
import {
  abortUploadBodySchema,
  completeUploadBodySchema,
  downloadResultSchema,
  listUploadsQuerySchema,
  listUploadsResultSchema,
  requestKeySchema,
  resumeUploadBodySchema,
  resumeUploadResultSchema,
  singlePutUploadBodySchema,
  singlePutUploadResultSchema,
  startUploadBodySchema,
  startUploadHeadersSchema,
  startUploadResultSchema,
  uploadDetailsSchema,
} from "./uploads.schemas";

const c = initContract();

/**
 * The error codes each route can really answer, for its documentation (the OpenAPI document lists these statuses and
 * codes per operation). Every project route checks the key and the project and may meet a failing store or a bug;
 * routes with a JSON body may also meet a bad body.
 */
const AUTH_AND_FAILURES: ErrorCode[] = [
  "UNAUTHORIZED",
  "TOKEN_EXPIRED",
  "FORBIDDEN",
  "PROJECT_NOT_FOUND",
  "INTERNAL_ERROR",
  "STORAGE_UNAVAILABLE",
  "IDENTITY_PROVIDER_UNAVAILABLE",
];
const BAD_BODY: ErrorCode[] = ["VALIDATION_FAILED", "MALFORMED_REQUEST", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"];
/** What any start (multipart or single PUT) can refuse: the project's rules, the duplicate check, the key, the limit. */
const START_ERRORS: ErrorCode[] = [
  "DUPLICATE_FILE",
  "FILE_TOO_LARGE",
  "MIME_TYPE_NOT_ALLOWED",
  "IDEMPOTENCY_KEY_REUSED",
  "IDEMPOTENCY_KEY_IN_USE",
  "UPLOAD_NOT_IN_PROGRESS",
  "TOO_MANY_OPEN_UPLOADS",
  "TOKEN_UPLOAD_LIMIT_REACHED",
];
const errorsOf = (...codes: ErrorCode[]) => ({ errorCodes: [...new Set([...codes, ...AUTH_AND_FAILURES])] });
export type RouteErrorMetadata = ReturnType<typeof errorsOf>;

const projectParams = z.object({ projectId: z.string().describe("Unique id of the project.") });

export const uploadsContract = c.router(
  {
    start: {
      method: "POST",
      metadata: errorsOf(...BAD_BODY, ...START_ERRORS),
      path: "/multipart",
      pathParams: projectParams,
      headers: startUploadHeadersSchema,
      body: startUploadBodySchema,
      responses: { 200: successEnvelope(startUploadResultSchema) },
      summary: "Start a multipart upload",
      description:
        "Plans the parts and returns one presigned PUT URL per part. Every part but the last is exactly `partSize` bytes.",
    },
    startSinglePut: {
      method: "POST",
      metadata: errorsOf(...BAD_BODY, ...START_ERRORS),
      path: "/url",
      pathParams: projectParams,
      headers: startUploadHeadersSchema,
      body: singlePutUploadBodySchema,
      responses: { 200: successEnvelope(singlePutUploadResultSchema) },
      summary: "Start a single-PUT upload (small files)",
      description:
        "Returns one presigned PUT URL for the whole file (up to 5 GiB), signed for its exact length, and the headers its PUT must send (`headers`: none on the embedded store, where the body alone stores the file). PUT the file there, then call `POST /success/{requestKey}`, which checks the stored file (its size, and that it carries no header its URL did not set: such a file is removed, PUT it again) and marks the upload completed. The upload counts among the project's open uploads until then; `GET /{requestKey}`, the list and `PUT /multipart-abort` work for it as for a multipart upload.",
    },
    complete: {
      method: "PUT",
      metadata: errorsOf(
        ...BAD_BODY,
        "INVALID_PART",
        "INVALID_PART_ORDER",
        "PART_TOO_SMALL",
        "PART_SIZE_MISMATCH",
        "UPLOAD_NOT_FOUND",
        "UPLOAD_NOT_IN_PROGRESS",
        "NOT_A_MULTIPART_UPLOAD",
        "CONTENT_REJECTED",
      ),
      path: "/multipart-complete",
      pathParams: projectParams,
      body: completeUploadBodySchema,
      responses: { 200: successEnvelope(z.literal(true)) },
      summary: "Complete a multipart upload",
      description: "Assembles the listed parts (every part of the plan, with the eTags their PUTs returned).",
    },
    abort: {
      method: "PUT",
      metadata: errorsOf(...BAD_BODY, "UPLOAD_NOT_FOUND", "UPLOAD_NOT_IN_PROGRESS"),
      path: "/multipart-abort",
      pathParams: projectParams,
      body: abortUploadBodySchema,
      responses: { 200: successEnvelope(z.literal(true)) },
      summary: "Abort a multipart upload",
      description:
        "Discards the stored parts (or, for a single-PUT upload, the stored file) and releases the duplicate-check reservation, if any.",
    },
    resume: {
      method: "POST",
      metadata: errorsOf(...BAD_BODY, "UPLOAD_NOT_FOUND", "UPLOAD_NOT_IN_PROGRESS", "NOT_A_MULTIPART_UPLOAD"),
      path: "/multipart-resume",
      pathParams: projectParams,
      body: resumeUploadBodySchema,
      responses: { 200: successEnvelope(resumeUploadResultSchema) },
      summary: "Resume a multipart upload",
      description: "Lists the parts already stored and returns fresh presigned URLs for the others.",
    },
    download: {
      method: "POST",
      metadata: errorsOf(
        ...BAD_BODY,
        "UPLOAD_NOT_FOUND",
        "UPLOAD_NOT_COMPLETED",
        "CONTENT_REJECTED",
        "VERIFICATION_PENDING",
      ),
      path: "/success/:requestKey",
      pathParams: projectParams.extend({ requestKey: requestKeySchema }),
      body: c.noBody(),
      responses: { 200: successEnvelope(downloadResultSchema) },
      summary: "Get a download URL for a completed upload",
      description:
        "For a single-PUT upload (`POST /url`) this is also the step that completes it: the stored file must be there with the planned size, else 409 `UPLOAD_NOT_COMPLETED`. A URL is handed out only for a file that passed the content check: while the check runs this waits for it (a bounded time), then answers 409 `VERIFICATION_PENDING` (retryable, `Retry-After`); a file that failed it gets 422 `CONTENT_REJECTED`.",
    },
    get: {
      method: "GET",
      metadata: errorsOf("VALIDATION_FAILED", "UPLOAD_NOT_FOUND"),
      path: "/:requestKey",
      pathParams: projectParams.extend({ requestKey: requestKeySchema }),
      responses: { 200: successEnvelope(uploadDetailsSchema) },
      summary: "Get an upload's state",
    },
    list: {
      method: "GET",
      metadata: errorsOf("VALIDATION_FAILED", "TOKEN_NOT_ALLOWED"),
      path: "",
      pathParams: projectParams,
      query: listUploadsQuerySchema,
      responses: { 200: successEnvelope(listUploadsResultSchema) },
      summary: "List the project's uploads, newest first",
    },
  },
  {
    pathPrefix: "/api/projects/:projectId/uploads",
    commonResponses: errorResponses,
    strictStatusCodes: true,
  },
);

export const contract = c.router({
  uploads: uploadsContract,
  uploadTokens: uploadTokensContract,
  health: healthContract,
  dev: devContract,
});
export type Contract = typeof contract;
