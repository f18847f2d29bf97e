import type { ErrorCode, ErrorDetail } from "@upload-gateway/contract";

/** A reply from the gateway that is not a success: its status, sentences and machine-readable codes. */
export class UploadGatewayError extends Error {
  override name = "UploadGatewayError";
  readonly status: number;
  /** Human-readable errors from the envelope, each naming the field and the reason. */
  readonly errors: string[];
  readonly messages: string[];
  readonly details: ErrorDetail[];
  /** Whether sending the same request again later can succeed. */
  readonly retryable: boolean;

  constructor(status: number, body: unknown) {
    const envelope = asEnvelope(body);
    const errors = envelope.errors.length > 0 ? envelope.errors : [`The gateway answered HTTP ${status}.`];
    super(errors.join("; "));
    this.status = status;
    this.errors = errors;
    this.messages = envelope.messages;
    this.details = envelope.errorDetails;
    this.retryable = envelope.errorDetails.length > 0 ? envelope.errorDetails.every((d) => d.retryable) : status >= 500 || status === 429;
  }

  get codes(): ErrorCode[] {
    return this.details.map((d) => d.code);
  }

  hasCode(code: ErrorCode): boolean {
    return this.details.some((d) => d.code === code);
  }
}

/** The request never got an answer (connection refused or reset, DNS, timeout). Always worth retrying. */
export class NetworkError extends Error {
  override name = "NetworkError";
  readonly retryable = true;
}

/** An upload failed for good: `cause` says why (an `UploadGatewayError`, a refused part, retries exhausted…). */
export class UploadFailedError extends Error {
  override name = "UploadFailedError";
  constructor(
    message: string,
    readonly requestKey: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The upload was cancelled through its `AbortSignal`. */
export class UploadAbortedError extends Error {
  override name = "AbortError";
  constructor(readonly requestKey: string | undefined) {
    super("The upload was cancelled.");
  }
}

function asEnvelope(body: unknown): { errors: string[]; messages: string[]; errorDetails: ErrorDetail[] } {
  const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : []);
  return {
    errors: strings(b.errors),
    messages: strings(b.messages),
    errorDetails: Array.isArray(b.errorDetails) ? (b.errorDetails as ErrorDetail[]) : [],
  };
}

/**
 * The file is not what the upload was planned for: its size or content changed while it was being uploaded, or it
 * gave fewer or more bytes than it said it has. Nothing is completed; the upload is aborted on the server.
 */
export class FileChangedError extends UploadFailedError {
  override name = "FileChangedError";
  readonly code = "FILE_CHANGED";
}
