import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from "@nestjs/common";
import { RequestValidationError } from "@ts-rest/nest";
import type { ErrorCode, ErrorProblem } from "@upload-gateway/contract";
import type { ZodError } from "zod";
import { sendReply, type PlatformReply } from "./platform-reply";
import { ApiError, toApiError } from "../errors/api-error";

/**
 * Turns every failure into the envelope: the contract's validation errors, the HTTP platform's own (malformed JSON,
 * unknown route, body too large), the gateway's expected errors, and bugs (500, logged; details stay in the log).
 */
@Catch()
export class EnvelopeExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger("Errors");

  catch(exception: unknown, host: ArgumentsHost): void {
    const error = toApiError(exception) ?? fromHttpException(exception) ?? this.internal(exception);
    // On Fastify or Express alike; the content type is set again, as a route may have set another before it failed.
    const reply = host.switchToHttp().getResponse<PlatformReply>();
    void sendReply(reply, { status: error.status, headers: error.headers, body: error.toEnvelope() });
  }

  private internal(exception: unknown): ApiError {
    this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    return new ApiError({ code: "INTERNAL_ERROR" });
  }
}

const STATUS_CODES: Record<number, ErrorCode> = {
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "ROUTE_NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  429: "RATE_LIMITED",
};

function fromHttpException(exception: unknown): ApiError | undefined {
  if (exception instanceof RequestValidationError) return fromValidation(exception);
  if (!(exception instanceof HttpException)) return undefined;
  const status = exception.getStatus();
  if (status >= 500) return undefined;
  const code = STATUS_CODES[status];
  if (code) return new ApiError({ code, ...(code === "ROUTE_NOT_FOUND" ? { message: exception.message } : {}) });
  // The body parsers' failures arrive as 400s; its wording ("Unexpected token ...") is useful to the caller.
  const malformed = /json/i.test(exception.message);
  return new ApiError({
    code: malformed ? "MALFORMED_REQUEST" : "VALIDATION_FAILED",
    message: malformed ? `The request body is not valid JSON: ${exception.message}` : exception.message,
  });
}

function fromValidation(exception: RequestValidationError): ApiError {
  const sources: [string, ZodError | null][] = [
    ["", exception.pathParams],
    ["", exception.query],
    ["", exception.body],
    ["headers.", exception.headers],
  ];
  const problems: ErrorProblem[] = sources.flatMap(([prefix, zodError]) =>
    (zodError?.issues ?? []).map((issue) => ({
      code: "VALIDATION_FAILED" as const,
      field: issue.path.length > 0 ? prefix + issue.path.join(".") : "body",
      message: issue.message === "Required" ? "is required" : issue.message,
    })),
  );
  const [first, ...rest] = problems;
  return first ? new ApiError(first, ...rest) : new ApiError({ code: "VALIDATION_FAILED" });
}
