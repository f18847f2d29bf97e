import type { Verification } from "@upload-gateway/contract";
import type { ApiClient } from "./api-client";
import { ContentRejectedError, UploadGatewayError } from "./errors";

/** The gateway error `error` is or wraps (`withRetries` wraps a refusal in an `UploadFailedError`), if any. */
export function gatewayErrorOf(error: unknown): UploadGatewayError | undefined {
  if (error instanceof UploadGatewayError) return error;
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  return cause instanceof UploadGatewayError ? cause : undefined;
}

/**
 * The `ContentRejectedError` for `error` when the gateway refused the stored file (`CONTENT_REJECTED`, at complete or
 * at `success`); undefined for any other error. The upload's status is read once for the check's findings (its code
 * and detected type): best effort, without retries, as the refusal alone says why.
 */
export async function contentRejection(
  error: unknown,
  api: ApiClient,
  projectId: string,
  requestKey: string | undefined,
): Promise<ContentRejectedError | undefined> {
  const refusal = gatewayErrorOf(error);
  const detail = refusal?.details.find((d) => d.code === "CONTENT_REJECTED");
  if (!refusal || !detail) return undefined;
  let verification: Verification | undefined;
  if (requestKey) {
    const details = await api.get(projectId, requestKey).catch(() => undefined);
    // Only findings of a failed check: a status read before the gateway recorded it would say `pending`.
    if (details?.verification?.state === "failed") verification = details.verification;
  }
  const reason = verification?.reason ?? detail.message;
  return new ContentRejectedError(detail.message, requestKey, reason, verification, { cause: refusal });
}
