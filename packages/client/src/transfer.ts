import type { PartPlan, SinglePutUploadBody, Verification } from "@upload-gateway/contract";
import type { ApiClient } from "./api-client";
import type { PartIntegrityCheck } from "./part-integrity";
import type { RetryBudget } from "./retry-budget";
import type { PartRequest } from "./transport";
import type { UploadOptions } from "./upload-options";
import type { UploadSource } from "./upload-source";

/** A part the store holds: its ETag and size. */
export interface StoredPart {
  partNumber: number;
  eTag: string;
  size: number;
}

/** What a transfer strategy needs of the upload it serves. */
export interface UploadContext {
  readonly api: ApiClient;
  readonly options: UploadOptions;
  readonly source: UploadSource;
  /** Aborts when the upload is cancelled. */
  readonly signal: AbortSignal;
  readonly integrity: PartIntegrityCheck;
  /** What both kinds of start say about the file (a multipart start adds its parts number). */
  readonly startFields: SinglePutUploadBody;
  /** Tells the upload (and `onStart`) that it has a request key, as soon as it has. */
  started(info: { requestKey: string; uploadId: string; partsTotal: number; partSize: number }): void;
  /** A fresh retry budget for one operation. */
  budget(what: string): RetryBudget;
  /** Calls the gateway, retried within a fresh budget (see `withRetries`). */
  call<T>(what: string, call: () => Promise<T>): Promise<T>;
}

/** What a part PUT's reply of 412 means, as the transfer tells: the part is stored (ours), or the upload fails. */
export type PreconditionOutcome = { stored: true; eTag: string } | { stored: false; error: Error };

/**
 * One way of moving the file: a multipart upload (`MultipartTransfer`: parts, their URLs renewed through resume,
 * completed with their ETags) or a single PUT (`SinglePutTransfer`: one URL signed by `POST /url`, completed by asking
 * for the download URL). The part scheduler and sender drive either alike.
 */
export interface Transfer {
  readonly kind: "multipart" | "single-put";
  readonly requestKey: string;
  /** The store's multipart upload id; empty for a single PUT. */
  readonly uploadId: string;
  readonly plan: PartPlan;
  /** Parts stored before this run (a resumed upload). */
  readonly storedAtStart: StoredPart[];
  /**
   * Headers a part PUT must carry for its URL: a single PUT's, exactly as the gateway listed them (`headers` of
   * `POST /url`), or from a gateway before that list the type and `If-None-Match: *` its URL was signed for.
   */
  readonly putOptions: Pick<PartRequest, "headers" | "contentType" | "putOnce">;
  /**
   * Whether its URL stores once (a single PUT): its bytes are always hashed first, and a part whose reply was lost is
   * recognised by a 412 rather than by asking the gateway.
   */
  readonly storesOnce: boolean;
  /**
   * The URL to PUT a part to, renewed when forgotten; `undefined` when there is none because the store already has the
   * part (`storedPart` says what it holds).
   */
  urlOf(partNumber: number): Promise<string | undefined>;
  /** Forgets a part's URL: the next attempt asks the gateway (a refused URL; or what is stored, after an outage). */
  forgetUrl(partNumber: number): void;
  /** The part the store reported holding at the last renewal, if any. */
  storedPart(partNumber: number): { eTag: string; size: number } | undefined;
  /** What a 412 to a PUT to a URL that stores once means, after `failures` failed attempts of it. */
  preconditionFailed?(failures: number): PreconditionOutcome;
  /**
   * Completes the upload once every part is stored, and returns what the gateway's content check found (from
   * `POST /success/{requestKey}`, which waits for it); undefined from a gateway that does not check.
   */
  complete(parts: { partNumber: number; eTag: string }[]): Promise<Verification | undefined>;
}
