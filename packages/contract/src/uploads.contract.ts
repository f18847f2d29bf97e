import { initContract } from "@ts-rest/core";
import { devContract } from "./dev.contract";
import { healthContract } from "./health.contract";
import { z } from "zod";
import { errorEnvelopeSchema, successEnvelope } from "./envelope";
import { ERROR_STATUSES, type ErrorStatus } from "./errors";
import {
  abortUploadBodySchema,
  completeUploadBodySchema,
  downloadResultSchema,
  listUploadsQuerySchema,
  listUploadsResultSchema,
  requestKeySchema,
  resumeUploadBodySchema,
  resumeUploadResultSchema,
  startUploadBodySchema,
  startUploadResultSchema,
  uploadDetailsSchema,
} from "./uploads.schemas";

const c = initContract();

/** Every route may answer any error status with the error envelope. */
const errorResponses = Object.fromEntries(ERROR_STATUSES.map((s) => [s, errorEnvelopeSchema])) as Record<
  ErrorStatus,
  typeof errorEnvelopeSchema
>;

const projectParams = z.object({ projectId: z.string().describe("Unique id of the project.") });

export const uploadsContract = c.router(
  {
    start: {
      method: "POST",
      path: "/multipart",
      pathParams: projectParams,
      body: startUploadBodySchema,
      responses: { 200: successEnvelope(startUploadResultSchema) },
      summary: "Start a multipart upload",
      description:
        "Plans the parts and returns one presigned PUT URL per part. Every part but the last is exactly `partSize` bytes.",
    },
    complete: {
      method: "PUT",
      path: "/multipart-complete",
      pathParams: projectParams,
      body: completeUploadBodySchema,
      responses: { 200: successEnvelope(z.literal(true)) },
      summary: "Complete a multipart upload",
      description: "Assembles the listed parts (every part of the plan, with the eTags their PUTs returned).",
    },
    abort: {
      method: "PUT",
      path: "/multipart-abort",
      pathParams: projectParams,
      body: abortUploadBodySchema,
      responses: { 200: successEnvelope(z.literal(true)) },
      summary: "Abort a multipart upload",
      description: "Discards the stored parts and releases the duplicate-check reservation, if any.",
    },
    resume: {
      method: "POST",
      path: "/multipart-resume",
      pathParams: projectParams,
      body: resumeUploadBodySchema,
      responses: { 200: successEnvelope(resumeUploadResultSchema) },
      summary: "Resume a multipart upload",
      description: "Lists the parts already stored and returns fresh presigned URLs for the others.",
    },
    download: {
      method: "POST",
      path: "/success/:requestKey",
      pathParams: projectParams.extend({ requestKey: requestKeySchema }),
      body: c.noBody(),
      responses: { 200: successEnvelope(downloadResultSchema) },
      summary: "Get a download URL for a completed upload",
    },
    get: {
      method: "GET",
      path: "/:requestKey",
      pathParams: projectParams.extend({ requestKey: requestKeySchema }),
      responses: { 200: successEnvelope(uploadDetailsSchema) },
      summary: "Get an upload's state",
    },
    list: {
      method: "GET",
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

export const contract = c.router({ uploads: uploadsContract, health: healthContract, dev: devContract });
export type Contract = typeof contract;
