import { z } from "zod";
import { boundedInt } from "./bounded-int.schemas";
import { MAX_OBJECT_SIZE } from "./limits";
import { text } from "./uploads.schemas";

/** Upload tokens live at most a day: they are for one page's uploads, not a stand-in for an API key. */
export const MAX_UPLOAD_TOKEN_SECONDS = 86_400;
export const DEFAULT_UPLOAD_TOKEN_SECONDS = 900;
export const MAX_TOKEN_SUBJECT_LENGTH = 256;
export const MAX_TOKEN_MIME_TYPES = 100;
export const MAX_TOKEN_UPLOADS = 10_000;
/** A week: a bound for `maxDurationSeconds`, not a media limit of the gateway. */
export const MAX_TOKEN_DURATION_SECONDS = 604_800;

// "type/subtype" or "type/*" (RFC 6838 restricted names), as a project's allowedMimeTypes.
const MIME_TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/(\*|[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126})$/;

/**
 * What an upload token may start, on top of the project's own rules (a token can only narrow them). Every field is
 * optional; an omitted one adds no limit.
 */
export const uploadTokenConstraintsSchema = z.object({
  maxFileSize: boundedInt(1, MAX_OBJECT_SIZE, { unit: "bytes", notWhole: "must be a whole number of bytes" })
    .optional()
    .describe("The largest file (contentLength, bytes) an upload started with the token may have."),
  allowedMimeTypes: z
    .array(z.string().regex(MIME_TYPE_PATTERN, 'must be a MIME type ("video/mp4") or a wildcard ("video/*")'))
    .min(1, "must list at least one type (omit it to allow every type the project allows)")
    .max(MAX_TOKEN_MIME_TYPES, `must list at most ${MAX_TOKEN_MIME_TYPES} types`)
    .optional()
    .describe('MIME types uploads started with the token may have: exact ("video/mp4") or wildcards ("video/*").'),
  maxDurationSeconds: z
    .number()
    .min(1, "must be at least 1 second")
    .max(MAX_TOKEN_DURATION_SECONDS, `must be at most ${MAX_TOKEN_DURATION_SECONDS}`)
    .optional()
    .describe("The longest audio or video (seconds, as the content check measures it) an upload may carry."),
  requireMedia: z
    .boolean()
    .optional()
    .describe("Uploads must be decodable audio or video (of the kind their type names), checked on the stored bytes."),
  maxUploads: boundedInt(1, MAX_TOKEN_UPLOADS, { notWhole: "must be a whole number" })
    .optional()
    .describe("How many uploads the token may start, counted across every replica of the gateway."),
});
export type UploadTokenConstraints = z.infer<typeof uploadTokenConstraintsSchema>;

export const createUploadTokenBodySchema = uploadTokenConstraintsSchema
  .extend({
    expiresInSeconds: boundedInt(1, MAX_UPLOAD_TOKEN_SECONDS, { notWhole: "must be a whole number of seconds" })
      .optional()
      .describe(
        `How long the token is valid, in seconds (1–${MAX_UPLOAD_TOKEN_SECONDS}; ${DEFAULT_UPLOAD_TOKEN_SECONDS} when omitted).`,
      ),
    subject: text(
      z
        .string()
        .min(1, "must not be empty")
        .max(MAX_TOKEN_SUBJECT_LENGTH, `must be at most ${MAX_TOKEN_SUBJECT_LENGTH} characters`),
    )
      .optional()
      .describe(
        "Who the token is for (e.g. your app's user id). Tokens minted with the same subject act on each other's " +
          "uploads, so a fresh token continues what an expired one started; without a subject a token sees only the " +
          "uploads it started itself.",
      ),
  })
  .strict()
  .optional();
export type CreateUploadTokenBody = z.infer<typeof createUploadTokenBodySchema>;

export const uploadTokenResultSchema = z.object({
  token: z.string().describe("Send it as `Authorization: Bearer <token>` on this project's upload routes."),
  expiresAt: z.string().describe("When the token stops being accepted (ISO 8601)."),
});
export type UploadTokenResult = z.infer<typeof uploadTokenResultSchema>;
