import type { StartUploadBody } from "@upload-gateway/contract";
import type { ZodType, ZodTypeDef } from "zod";

/**
 * A start body schema of the embedding app's own: `refineStartUpload(startUploadBodyBase.extend({ ... }))` from the
 * contract. Starts are validated with it, and the hooks see its extra fields on the body.
 */
export type StartBodySchema = ZodType<StartUploadBody, ZodTypeDef, unknown>;
