import { createApiClient, type ApiClient } from "@upload-gateway/client";
import { MiB, type StartUploadResult } from "@upload-gateway/contract";
import { uppyPartPlan } from "./part-plan";

/** What both option builders (Uppy 5's hooks, Uppy 6's `signRequest`) need to reach the gateway. */
export interface GatewayUppyOptions {
  /** The gateway: a client from `@upload-gateway/client` (its credentials, token refresh included), or where it is. */
  client?: ApiClient;
  baseUrl?: string;
  /** A project API key (server-side use), or use `getToken`. */
  apiKey?: string;
  /** Returns a short-lived upload token; called again when the gateway says it expired (needs a client that has it). */
  getToken?: () => string | Promise<string>;
  projectId: string;
  /** Largest part wanted, in bytes (≥ 5 MiB; default 16 MiB). Files up to one part go up in one PUT. */
  partSize?: number;
  /** How long the part URLs stay valid (1–168 hours; the gateway's default is 12). */
  presignedUrlExpiryTimeHours?: number;
}

export const OCTET_STREAM = "application/octet-stream";

/** The client the options talk through, and the largest part asked for (checked: S3's floor is 5 MiB). */
export function gatewayConnection(
  options: GatewayUppyOptions,
  builder: string,
): { client: ApiClient; largestPart: number } {
  const largestPart = options.partSize ?? 16 * MiB;
  if (largestPart < 5 * MiB) throw new RangeError("partSize must be at least 5 MiB");
  if (options.client) return { client: options.client, largestPart };
  const { baseUrl, apiKey, getToken } = options;
  if (!baseUrl || (!apiKey && !getToken)) {
    throw new TypeError(`${builder}() needs \`client\`, or \`baseUrl\` with \`apiKey\` or \`getToken\``);
  }
  // Token refresh lives in the client: it calls `getToken` again when the gateway answers TOKEN_EXPIRED.
  return { client: createApiClient({ baseUrl, apiKey, getToken }), largestPart };
}

/** The name the gateway keeps for a file (Uppy's name; a file without one is still uploaded). */
export function fileNameOf(file: { name?: string | null }): string {
  return file.name || "upload";
}

/**
 * Starts a multipart upload of `file` in the part plan Uppy cuts (`uppyPartPlan`). A gateway that plans other parts
 * (another version's rules) gets the upload aborted and an error: Uppy would cut other parts than the gateway planned,
 * and complete would fail after every byte was sent.
 */
export async function startInUppysPlan(
  client: ApiClient,
  projectId: string,
  file: { name?: string | null; size: number | null; type?: string | null },
  largestPart: number,
  presignedUrlExpiryTimeHours: number | undefined,
): Promise<StartUploadResult> {
  const size = file.size ?? 0;
  const plan = uppyPartPlan(size, largestPart);
  const started = await client.start(projectId, {
    partsNumber: plan.partsNumber,
    fileName: fileNameOf(file),
    contentLength: String(size),
    mimeType: file.type || OCTET_STREAM,
    presignedUrlExpiryTimeHours,
  });
  if (started.partSize !== plan.partSize || started.partsNumber !== plan.partsNumber) {
    await client.abort(projectId, started.requestKey).catch(() => undefined);
    throw new Error(
      `The gateway planned ${started.partsNumber} parts of ${started.partSize} bytes, ` +
        `Uppy would send ${plan.partsNumber} of ${plan.partSize}.`,
    );
  }
  return started;
}
