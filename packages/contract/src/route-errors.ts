import { errorEnvelopeSchema } from "./envelope";
import { ERROR_STATUSES, type ErrorStatus } from "./errors";

/** Every route may answer any error status with the error envelope. */
export const errorResponses = Object.fromEntries(ERROR_STATUSES.map((s) => [s, errorEnvelopeSchema])) as Record<
  ErrorStatus,
  typeof errorEnvelopeSchema
>;
