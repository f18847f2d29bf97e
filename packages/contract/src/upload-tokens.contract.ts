import { initContract } from "@ts-rest/core";
import { z } from "zod";
import { successEnvelope } from "./envelope";
import { errorResponses } from "./route-errors";
import { createUploadTokenBodySchema, uploadTokenResultSchema } from "./upload-tokens.schemas";

const c = initContract();

/** Short-lived credentials a web app's backend mints with its API key and hands to its pages. */
export const uploadTokensContract = c.router(
  {
    create: {
      method: "POST",
      metadata: {
        errorCodes: [
          "VALIDATION_FAILED",
          "MALFORMED_REQUEST",
          "PAYLOAD_TOO_LARGE",
          "UNSUPPORTED_MEDIA_TYPE",
          "UNAUTHORIZED",
          "TOKEN_EXPIRED",
          "FORBIDDEN",
          "TOKEN_NOT_ALLOWED",
          "PROJECT_NOT_FOUND",
          "UPLOAD_TOKENS_NOT_CONFIGURED",
          "INTERNAL_ERROR",
          "IDENTITY_PROVIDER_UNAVAILABLE",
        ],
      },
      path: "",
      pathParams: z.object({ projectId: z.string().describe("Unique id of the project.") }),
      body: createUploadTokenBodySchema,
      responses: { 200: successEnvelope(uploadTokenResultSchema) },
      summary: "Mint an upload token",
      description:
        "Needs the project's API key (an upload token cannot mint tokens). The token is a signed JWT that a web page " +
        "sends as `Authorization: Bearer <token>` on this project's upload routes: it may start uploads (within the " +
        "constraints given here and the project's own rules) and act on the uploads it started, but not list the " +
        "project's uploads. Past `expiresAt` it is refused with 401 `TOKEN_EXPIRED`.",
    },
  },
  {
    pathPrefix: "/api/projects/:projectId/upload-tokens",
    commonResponses: errorResponses,
    strictStatusCodes: true,
  },
);
