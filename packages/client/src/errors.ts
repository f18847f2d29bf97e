import type { ErrorCode, ErrorDetail, Verification } from "@upload-gateway/contract";

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
  /** The reply's `Retry-After` (seconds or an HTTP date), when it had one: when to send the request again. */
  readonly retryAfter: string | undefined;

  constructor(status: number, body: unknown, retryAfter?: string | null) {
    const envelope = asEnvelope(body);
    const errors = envelope.errors.length > 0 ? envelope.errors : [`The gateway answered HTTP ${status}.`];
    super(errors.join("; "));
    this.status = status;
    this.errors = errors;
    this.messages = envelope.messages;
    this.details = envelope.errorDetails;
    this.retryable =
      envelope.errorDetails.length > 0
        ? envelope.errorDetails.every((d) => d.retryable)
        : status >= 500 || status === 429;
    this.retryAfter = retryAfter ?? undefined;
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

/**
 * The gateway answers, but the browser withholds its replies from this page: the gateway's CORS does not allow the
 * page's origin (or a proxy in front of it answers without CORS headers). Not worth retrying: the gateway's settings
 * must change. The message names the origin and where to allow it.
 */
export class CorsRefusedError extends Error {
  override name = "CorsRefusedError";
  readonly retryable = false;
  constructor(
    /** The page's origin, e.g. `https://app.example.com`. */
    readonly origin: string,
    readonly baseUrl: string,
    options?: { cause?: unknown },
  ) {
    super(
      `The gateway at ${baseUrl} answers, but not to pages on ${origin}: its CORS does not allow this origin, so the ` +
        `browser withholds its replies. Add ${origin} to the gateway's CORS_ORIGINS (standalone server) or to the ` +
        `project's allowedOrigins (projects file); a gateway embedded with UploadGatewayModule answers with the CORS ` +
        `of the app it runs in.`,
      options,
    );
  }
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

/**
 * The gateway checked the stored file and refused it (`CONTENT_REJECTED`): it is not what it was declared to be, not
 * a type the project accepts, or a scanner refused it. The upload is `rejected` on the gateway and its file removed:
 * sending the same file again will not help. `message` is the gateway's sentence, naming what was declared and what
 * was found.
 */
export class ContentRejectedError extends UploadFailedError {
  override name = "ContentRejectedError";
  readonly code = "CONTENT_REJECTED";
  constructor(
    message: string,
    requestKey: string | undefined,
    /** Why, in plain words: "declared video/mp4, found an HTML page (text/html)". */
    readonly reason: string,
    /**
     * The check's findings (`state: "failed"`, its `code`, `detectedMimeType`), as the upload's status reports them;
     * undefined when they could not be read.
     */
    readonly verification: Verification | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, requestKey, options);
  }
}
