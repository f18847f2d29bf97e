import {
  ERROR_CODES,
  errorEnvelope,
  type ErrorEnvelope,
  type ErrorProblem,
  type ErrorStatus,
} from "@upload-gateway/contract";
import { StorageError, type StorageErrorReason } from "../storage/storage.port";

/** An expected failure of a request: one or more problems from the contract's closed set of codes. */
export class ApiError extends Error {
  override name = "ApiError";
  readonly problems: readonly [ErrorProblem, ...ErrorProblem[]];

  constructor(first: ErrorProblem, ...rest: ErrorProblem[]) {
    super(first.message ?? ERROR_CODES[first.code].message);
    this.problems = [first, ...rest];
  }

  get status(): ErrorStatus {
    return ERROR_CODES[this.problems[0].code].status;
  }

  /** When to try again, sent as `Retry-After` (seconds), for the errors that pass by themselves. */
  get retryAfterSeconds(): number | undefined {
    return RETRY_AFTER_SECONDS[this.problems[0].code];
  }

  /** The reply's headers: `Retry-After` where there is one. */
  get headers(): Record<string, string> {
    const seconds = this.retryAfterSeconds;
    return seconds === undefined ? {} : { "retry-after": String(seconds) };
  }

  toEnvelope(): ErrorEnvelope {
    return errorEnvelope(this.problems);
  }
}

/**
 * A store outage (a failover, a restart, a network cut) is usually over within seconds: clients retry on their own
 * schedule (the uploader backs off up to 30 s within its time budget), and this tells them not to come back sooner.
 */
const RETRY_AFTER_SECONDS: Partial<Record<keyof typeof ERROR_CODES, number>> = {
  STORAGE_UNAVAILABLE: 5,
  // A content check still running after the wait of `success` (VERIFY_WAIT_SECONDS) rarely needs much longer.
  VERIFICATION_PENDING: 2,
};

const STORAGE_REASON_CODES = {
  "upload-not-found": "UPLOAD_NOT_FOUND",
  "invalid-part": "INVALID_PART",
  "invalid-part-order": "INVALID_PART_ORDER",
  "part-too-small": "PART_TOO_SMALL",
  "part-too-large": "PAYLOAD_TOO_LARGE",
  "part-size-mismatch": "PART_SIZE_MISMATCH",
  "bad-digest": "BAD_DIGEST",
  "object-exists": "PRECONDITION_FAILED",
  unavailable: "STORAGE_UNAVAILABLE",
} as const satisfies Record<StorageErrorReason, keyof typeof ERROR_CODES>;

/** The one mapping of expected failures to API errors; `undefined` for anything unexpected (a bug: 500). */
export function toApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if (error instanceof StorageError) {
    const code = STORAGE_REASON_CODES[error.reason];
    // The store's own wording is specific (which part, which size) except for outages, whose details are internal.
    return new ApiError({ code, ...(code === "STORAGE_UNAVAILABLE" ? {} : { message: error.message }) });
  }
  return undefined;
}
