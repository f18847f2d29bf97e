import { z } from "zod";
import { verificationSchema } from "./verification.schemas";
import { boundedInt } from "./bounded-int.schemas";
import {
  DEFAULT_LIST_LIMIT,
  MAX_FILE_NAME_LENGTH,
  MAX_LIST_LIMIT,
  MAX_METADATA_KEY_BYTES,
  MAX_METADATA_KEYS,
  MAX_METADATA_TOTAL_BYTES,
  MAX_METADATA_VALUE_BYTES,
  MAX_OBJECT_SIZE,
  MAX_PARTS,
  MAX_SINGLE_PUT_SIZE,
  MAX_URL_EXPIRY_HOURS,
  MIN_URL_EXPIRY_HOURS,
} from "./limits";
import { planParts } from "./part-plan";

// Control characters (C0, DEL, C1) have no place in a file name and break headers and logs.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
// A UTF-16 surrogate without its pair is not a character: it has no UTF-8 form, so encoding it (encodeURIComponent,
// S3 metadata, a log line) throws or corrupts it. A regex rather than `String.prototype.isWellFormed`, which older
// browsers that run this package lack.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A string that is text: no control characters, no lone surrogates. Hostile strings get a 400 naming the field. */
export function text(schema: z.ZodString) {
  return schema
    .refine((value) => !CONTROL_CHARACTERS.test(value), "must not contain control characters")
    .refine((value) => !LONE_SURROGATE.test(value), "must be valid Unicode text (it contains a lone surrogate)");
}
// RFC 6838 restricted names: `type/subtype`, no parameters.
const MIME_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/** The byte count of a `contentLength` that passed the schema. */
export function toByteCount(contentLength: string | number): number {
  return typeof contentLength === "number" ? contentLength : Number(contentLength);
}

/**
 * A byte count from `min` to `max`, as a decimal string (exact beyond 2^53) or a non-negative integer. One schema for
 * every `contentLength`, so that each route parses and reports it the same way; only the range differs.
 */
function byteCountSchema(min: number, max: number, maxLabel: string) {
  return z
    .union([z.string().regex(/^[0-9]+$/), z.number().int().min(0)], {
      errorMap: () => ({ message: 'must be a decimal string of bytes (e.g. "10486784") or a non-negative integer' }),
    })
    .superRefine((value, ctx) => {
      // zod refines values that failed the union's regex too; those are reported already.
      if (typeof value === "string" && !/^[0-9]+$/.test(value)) return;
      if (typeof value === "number" && !(Number.isInteger(value) && value >= 0)) return;
      // Compare as BigInt so that absurdly long digit strings are rejected exactly, not rounded.
      const bytes = BigInt(value);
      if (bytes < BigInt(min) || bytes > BigInt(max)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be from ${min} to ${max} bytes (${maxLabel})` });
      }
    });
}

export const contentLengthSchema = byteCountSchema(1, MAX_OBJECT_SIZE, "5 TiB").describe(
  "Total size of the file in bytes: a decimal string (as documented) or a non-negative integer.",
);

/** A single-PUT upload's size: S3 stores at most 5 GiB with one `PutObject`; an empty file is one PUT too. */
export const singlePutContentLengthSchema = byteCountSchema(0, MAX_SINGLE_PUT_SIZE, "5 GiB").describe(
  "Size of the file in bytes (0 to 5 GiB): a decimal string or a non-negative integer. The URL is signed for exactly this length.",
);

export const fileNameSchema = text(
  z
    .string()
    .min(1, "must not be empty")
    .max(MAX_FILE_NAME_LENGTH, `must be at most ${MAX_FILE_NAME_LENGTH} characters`),
).describe("The name of the file being uploaded; kept as metadata, never used as a storage path.");

export const mimeTypeSchema = z
  .string()
  .regex(MIME_TYPE, 'must be a MIME type of the form "type/subtype" (e.g. "video/mp4")')
  .describe('The MIME type of the file (e.g. "video/mp4").');

export const urlExpiryHoursSchema = boundedInt(MIN_URL_EXPIRY_HOURS, MAX_URL_EXPIRY_HOURS, {
  notWhole: "must be a whole number of hours",
})
  .nullish()
  .describe("How long the presigned URLs stay valid, in hours (1–168; null or omitted means 12).");

export const requestKeySchema = text(
  z.string().min(1, "must not be empty").max(128, "must be at most 128 characters"),
).describe("The key the start call returned for this upload.");

const utf8Bytes = (value: string) => new TextEncoder().encode(value).length;

/**
 * `metadata` on start: the application's own strings about the upload (a title, the owner's id), kept on the upload's
 * record, returned by status and list, and carried by lifecycle events and webhooks. The gateway never interprets it.
 */
export const metadataSchema = z
  .record(
    text(z.string().min(1, "must not be an empty key")).refine(
      (key) => utf8Bytes(key) <= MAX_METADATA_KEY_BYTES,
      `must be a key of at most ${MAX_METADATA_KEY_BYTES} bytes (UTF-8)`,
    ),
    text(z.string()).refine(
      (value) => utf8Bytes(value) <= MAX_METADATA_VALUE_BYTES,
      `must be at most ${MAX_METADATA_VALUE_BYTES} bytes (UTF-8)`,
    ),
    { invalid_type_error: "must be an object of string values" },
  )
  .superRefine((metadata, ctx) => {
    const keys = Object.keys(metadata);
    if (keys.length > MAX_METADATA_KEYS) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `must have at most ${MAX_METADATA_KEYS} keys (has ${keys.length})`,
      });
    }
    const total = keys.reduce((sum, key) => sum + utf8Bytes(key) + utf8Bytes(String(metadata[key])), 0);
    if (total > MAX_METADATA_TOTAL_BYTES) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `must be at most ${MAX_METADATA_TOTAL_BYTES} bytes in all, keys and values (UTF-8); is ${total}`,
      });
    }
  })
  .describe(
    `The application's own strings about the upload, returned by status and list and sent with lifecycle events and webhooks: at most ${MAX_METADATA_KEYS} keys of up to ${MAX_METADATA_KEY_BYTES} bytes, each value at most ${MAX_METADATA_VALUE_BYTES} bytes, ${MAX_METADATA_TOTAL_BYTES} bytes in all (UTF-8).`,
  );
export type UploadMetadata = z.infer<typeof metadataSchema>;

export const partNumberSchema = boundedInt(1, MAX_PARTS);

/**
 * The start body's fields without the checks that span several fields, so that a platform team can `.extend()` it
 * with fields of its own; pass the result through `refineStartUpload` to get the gateway's checks back.
 */
export const startUploadBodyBase = z.object({
  partsNumber: partNumberSchema.describe("The total number of parts the file is divided into."),
  fileName: fileNameSchema,
  contentLength: contentLengthSchema,
  mimeType: mimeTypeSchema,
  enableDuplicateCheck: z
    .boolean()
    .nullish()
    .describe("Refuse the upload when a file with the same `fileHash` was already uploaded to the project."),
  fileHash: text(z.string().min(1, "must not be empty").max(512, "must be at most 512 characters"))
    .nullish()
    .describe("A hash of the file's content; required when `enableDuplicateCheck` is true."),
  presignedUrlExpiryTimeHours: urlExpiryHoursSchema,
  metadata: metadataSchema.nullish(),
});

/**
 * Adds the start body's cross-field checks (a `fileHash` when `enableDuplicateCheck` is true; a part plan that exists
 * for `contentLength` and `partsNumber`) to `startUploadBodyBase` or an extension of it.
 */
export function refineStartUpload<T extends z.ZodType<z.output<typeof startUploadBodyBase>, z.ZodTypeDef, unknown>>(
  schema: T,
): z.ZodEffects<T> {
  return schema.superRefine(checkStartUpload);
}

function requireHashWhenChecked(
  body: { enableDuplicateCheck?: boolean | null; fileHash?: string | null },
  ctx: z.RefinementCtx,
): void {
  if (body.enableDuplicateCheck && !body.fileHash) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ["fileHash"],
      message: "is required when enableDuplicateCheck is true",
    });
  }
}

function checkStartUpload(body: z.output<typeof startUploadBodyBase>, ctx: z.RefinementCtx): void {
  requireHashWhenChecked(body, ctx);
  // zod runs this even when a field failed; those problems are reported already, so the plan is checked only when
  // both of its inputs are valid on their own.
  const inputsValid =
    partNumberSchema.safeParse(body.partsNumber).success && contentLengthSchema.safeParse(body.contentLength).success;
  if (!inputsValid) return;
  const planned = planParts(toByteCount(body.contentLength), body.partsNumber);
  if (!planned.ok) {
    for (const problem of planned.problems) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [problem.field], message: problem.message });
    }
  }
}

export const startUploadBodySchema = refineStartUpload(startUploadBodyBase);
export type StartUploadBody = z.infer<typeof startUploadBodySchema>;

/** How long the gateway remembers an `Idempotency-Key`: a retry within this window gets the same upload. */
export const IDEMPOTENCY_KEY_TTL_HOURS = 24;
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;
// Visible ASCII but the double quote and the backslash: what a structured-field String needs no escapes for.
const IDEMPOTENCY_KEY = /^[!#-[\]-~]+$/;

/**
 * The `Idempotency-Key` request header (IETF draft "The Idempotency-Key HTTP Header Field"): a structured-field
 * String such as `"8e03978e-40d5-43e8-bc93-6894a57f9324"`, or the same key without quotes, as many clients send it.
 * Parses to the key without its quotes.
 */
export const idempotencyKeySchema = z
  .string()
  .transform((value, ctx) => {
    const key = value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
    if (key.length === 0 || key.length > IDEMPOTENCY_KEY_MAX_LENGTH || !IDEMPOTENCY_KEY.test(key)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `must be one key of 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} visible ASCII characters (no spaces, quotes or backslashes; a UUID is best), optionally in double quotes`,
      });
      return z.NEVER;
    }
    return key;
  })
  .describe(
    `Makes a retried start safe: the same key with the same body within ${IDEMPOTENCY_KEY_TTL_HOURS} h answers the same upload (same \`uploadId\` and \`requestKey\`, freshly signed URLs for every part) instead of starting another; the same key with another body answers 422 \`IDEMPOTENCY_KEY_REUSED\`, and while the first request with the key is still running, 409 \`IDEMPOTENCY_KEY_IN_USE\` (retryable). Keys are per project. Send a new random key (a UUID) for each new upload and the same one on every retry of it.`,
  );

export const startUploadHeadersSchema = z.object({ "idempotency-key": idempotencyKeySchema.optional() });

export const presignedPartUrlSchema = z.object({
  partNumber: z.number().int(),
  presignedUrl: z.string().describe("PUT the part's bytes here; the reply's ETag header is the part's eTag."),
});

export const storedPartSchema = z.object({
  partNumber: z.number().int(),
  eTag: z.string(),
  size: z.number().int(),
});
export type StoredPart = z.infer<typeof storedPartSchema>;

/**
 * How a client can check each part it sends (an addition to the public start and resume results). Every store the
 * gateway supports verifies a `Content-MD5` header on a part PUT (wrong digest -> 400, nothing stored). Whether the
 * part's ETag is its MD5 depends on the store: true for plain S3 and Ceph RGW, false for S3 with SSE-KMS or SSE-C and
 * for some S3-compatible stores, so a client compares ETags with MD5s only when `eTagIsMd5` is true.
 */
export const partIntegritySchema = z.object({
  contentMd5: z
    .boolean()
    .describe("The store verifies a Content-MD5 header (base64 of the part's MD5) sent with a part PUT."),
  eTagIsMd5: z.boolean().describe("A stored part's ETag is the hex MD5 of its bytes, so clients may compare the two."),
});
export type PartIntegrity = z.infer<typeof partIntegritySchema>;

export const startUploadResultSchema = z.object({
  uploadId: z.string().describe("Unique identifier for the upload session."),
  requestKey: z.string().describe("The key that names this upload in every later call."),
  presignedUrl: z.array(presignedPartUrlSchema).describe("One presigned PUT URL per part, in part order."),
  partSize: z.number().int().describe("Size of every part but the last, in bytes."),
  partsNumber: z.number().int(),
  contentLength: z.string().describe("Total size of the file in bytes, as a decimal string."),
  expiresAt: z.string().datetime().describe("When the presigned URLs stop working."),
  integrity: partIntegritySchema.optional().describe("How clients can check each part (absent from older gateways)."),
});
export type StartUploadResult = z.infer<typeof startUploadResultSchema>;

/**
 * `POST /url`: an upload of a small file with one presigned PUT (the API family's single-PUT route). The start's
 * fields and checks (duplicate check, metadata, URL lifetime) without `partsNumber`, and a size of at most 5 GiB.
 */
export const singlePutUploadBodySchema = startUploadBodyBase
  .omit({ partsNumber: true })
  .extend({ contentLength: singlePutContentLengthSchema })
  .superRefine(requireHashWhenChecked);
export type SinglePutUploadBody = z.infer<typeof singlePutUploadBodySchema>;

export const singlePutUploadResultSchema = z.object({
  url: z
    .string()
    .describe(
      "PUT the whole file here: exactly `contentLength` bytes (the length is signed: any other is refused), with the headers `headers` lists; then call `POST /success/{requestKey}`. The URL stores once: a PUT after a file is stored is refused with 412. The download answers with `mimeType` and `fileName` whatever `Content-Type` the PUT sent.",
    ),
  headers: z
    .record(z.string(), z.string())
    .optional()
    .describe(
      "The headers the PUT must send, exactly as given (they are signed into `url`; `Content-Length` is never listed, every HTTP client sends the body's). Empty on the embedded store, where a PUT of the body alone stores the file. On S3: `if-none-match: *` (the store refuses a second PUT, so a stored file cannot be replaced) and `x-amz-acl` (`bucket-owner-full-control` unless the gateway's S3_SINGLE_PUT_ACL says otherwise; signed, so that no added header can make the object public). Absent from gateways before this field: send `Content-Type: mimeType` and `If-None-Match: *`.",
    ),
  requestKey: z.string().describe("The key that names this upload in every later call."),
  contentLength: z.string().describe("Size of the file in bytes, as a decimal string."),
  expiresAt: z.string().datetime().describe("When the URL stops working."),
  integrity: partIntegritySchema
    .optional()
    .describe(
      "How the client can check the PUT: `Content-MD5` is verified, and the reply's ETag is the MD5 when `eTagIsMd5`.",
    ),
});
export type SinglePutUploadResult = z.infer<typeof singlePutUploadResultSchema>;

export const completeUploadBodySchema = z.object({
  requestKey: requestKeySchema,
  parts: z
    .array(
      z.object({
        partNumber: partNumberSchema,
        eTag: text(z.string().min(1, "must not be empty").max(1024, "must be at most 1024 characters")),
      }),
    )
    .min(1, "must list at least one part")
    .max(MAX_PARTS, `must list at most ${MAX_PARTS} parts`),
});
export type CompleteUploadBody = z.infer<typeof completeUploadBodySchema>;

export const abortUploadBodySchema = z.object({ requestKey: requestKeySchema });

export const resumeUploadBodySchema = z.object({
  requestKey: requestKeySchema,
  presignedUrlExpiryTimeHours: urlExpiryHoursSchema,
});

export const resumeUploadResultSchema = startUploadResultSchema.extend({
  presignedUrl: z.array(presignedPartUrlSchema).describe("Fresh presigned URLs for the parts not yet stored."),
  uploadedParts: z.array(storedPartSchema).describe("The parts already stored, with their eTags and sizes."),
});
export type ResumeUploadResult = z.infer<typeof resumeUploadResultSchema>;

export const downloadResultSchema = z.object({
  downloadPath: z.string().describe("A time-limited URL to GET the completed file."),
  expiresAt: z.string().datetime(),
  verification: verificationSchema
    .optional()
    .describe("The content check the file passed: its detected type and, for audio and video, the media facts."),
});

/**
 * `rejected`: its bytes were stored but failed the content check (its `verification` says why); the object is gone
 * (or quarantined) and the upload no longer counts against the duplicate check or the open-upload cap.
 */
export const uploadStateSchema = z.enum(["uploading", "completed", "aborted", "rejected"]);
export type UploadState = z.infer<typeof uploadStateSchema>;

/** How an upload's bytes travel: parts of a multipart upload, or one PUT (`POST /url`). */
export const uploadTransferSchema = z.enum(["multipart", "single-put"]);
export type UploadTransfer = z.infer<typeof uploadTransferSchema>;

export const uploadSummarySchema = z.object({
  requestKey: z.string(),
  uploadId: z.string().describe("The store's multipart upload id; empty for a single-PUT upload."),
  transfer: uploadTransferSchema
    .optional()
    .describe("`multipart` or `single-put` (`POST /url`: one part, `partsNumber` 1); absent from older gateways."),
  fileName: z.string(),
  mimeType: z.string(),
  state: uploadStateSchema,
  contentLength: z.string(),
  createdAt: z.string().datetime(),
  updatedAt: z.string().datetime(),
  metadata: z.record(z.string()).describe("The `metadata` given at start (empty when none was)."),
  verification: verificationSchema
    .optional()
    .describe("The content check of the stored bytes; present once they are stored (completed or rejected)."),
});
export type UploadSummary = z.infer<typeof uploadSummarySchema>;

export const uploadDetailsSchema = uploadSummarySchema.extend({
  projectId: z.string(),
  partSize: z.number().int(),
  partsNumber: z.number().int(),
  uploadedParts: z.array(storedPartSchema).describe("Parts stored so far (empty once completed or aborted)."),
  completedAt: z.string().datetime().nullable(),
  abortedAt: z.string().datetime().nullable(),
});
export type UploadDetails = z.infer<typeof uploadDetailsSchema>;

export const listUploadsQuerySchema = z.object({
  cursor: text(z.string().max(256, "must be at most 256 characters"))
    .optional()
    .describe("`nextCursor` of the previous page."),
  limit: boundedInt(1, MAX_LIST_LIMIT, { number: z.coerce.number() })
    .optional()
    .describe(`Page size (default ${DEFAULT_LIST_LIMIT}).`),
});

export const listUploadsResultSchema = z.object({
  uploads: z.array(uploadSummarySchema).describe("Newest first."),
  nextCursor: z.string().nullable().describe("Pass as `cursor` for the next page; null on the last page."),
});
export type ListUploadsResult = z.infer<typeof listUploadsResultSchema>;
