import { z } from "zod";
import { ERROR_CODES, errorCodeSchema, type ErrorCode } from "./errors";

/**
 * Every reply is this envelope, as the public API documents it: `{success, errors, messages, result, resultInfo,
 * statusCode}`. `statusCode` always equals the HTTP status.
 */
export function successEnvelope<T extends z.ZodTypeAny>(result: T) {
  return z.object({
    success: z.literal(true),
    errors: z.array(z.string()).describe("Always empty on success."),
    messages: z.array(z.string()).describe("Messages from the back end."),
    result,
    resultInfo: z.string().nullable().describe("Extra information about the result, if any."),
    statusCode: z.number().int().describe("The HTTP status code."),
  });
}

export const errorDetailSchema = z.object({
  code: errorCodeSchema,
  field: z.string().optional().describe("The request field at fault, as a dotted path (e.g. `parts.2.eTag`)."),
  message: z.string(),
  retryable: z.boolean().describe("Whether the same request can succeed if sent again later."),
});
export type ErrorDetail = z.infer<typeof errorDetailSchema>;

/** An error reply (see `errorEnvelopeSchema`). */
export interface ErrorEnvelope {
  success: false;
  errors: string[];
  messages: string[];
  result: null;
  resultInfo: string | null;
  statusCode: number;
  errorDetails: ErrorDetail[];
}

// Typed by its interface: every route lists it for every error status, and a named type keeps the declarations of
// the contract, and of contracts built on it (`{ ...uploadsContract }`), within what TypeScript serializes (TS7056).
export const errorEnvelopeSchema: z.ZodType<ErrorEnvelope> = z.object({
  success: z.literal(false),
  errors: z.array(z.string()).describe("Human-readable errors, each naming the field (if any) and the reason."),
  messages: z.array(z.string()),
  result: z.null(),
  resultInfo: z.string().nullable(),
  statusCode: z.number().int(),
  errorDetails: z.array(errorDetailSchema).min(1).describe("Machine-readable errors; codes from a closed set."),
});

export type SuccessEnvelope<T> = {
  success: true;
  errors: string[];
  messages: string[];
  result: T;
  resultInfo: string | null;
  statusCode: number;
};

export function ok<T>(result: T, statusCode = 200, messages: string[] = []): SuccessEnvelope<T> {
  return { success: true, errors: [], messages, result, resultInfo: null, statusCode };
}

/** One problem to report: a code from the closed set, optionally the field at fault and a specific message. */
export interface ErrorProblem {
  code: ErrorCode;
  field?: string;
  message?: string;
}

/** Builds the error envelope for one or more problems; its status is the first problem's. */
export function errorEnvelope(problems: readonly [ErrorProblem, ...ErrorProblem[]]): ErrorEnvelope {
  const details = problems.map((p): ErrorDetail => {
    const def = ERROR_CODES[p.code];
    return {
      code: p.code,
      ...(p.field === undefined ? {} : { field: p.field }),
      message: p.message ?? def.message,
      retryable: def.retryable,
    };
  });
  return {
    success: false,
    errors: details.map((d) => (d.field ? `${d.field}: ${d.message}` : d.message)),
    messages: [],
    result: null,
    resultInfo: null,
    statusCode: ERROR_CODES[problems[0].code].status,
    errorDetails: details,
  };
}
