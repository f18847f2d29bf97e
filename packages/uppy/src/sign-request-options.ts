import { UploadGatewayError, type ApiClient } from "@upload-gateway/client";
import type { ResumeUploadResult, SinglePutUploadResult, StartUploadResult } from "@upload-gateway/contract";
import {
  fileNameOf,
  gatewayConnection,
  OCTET_STREAM,
  startInUppysPlan,
  type GatewayUppyOptions,
} from "./gateway-connection";
import { uppyPartPlan } from "./part-plan";
import { ABORTED_REPLY, completeReply, initiateReply, listPartsReply } from "./s3-replies";
import { completeSinglePuts, type UppyForGateway } from "./single-put-completion";

export type { UppyForGateway };

/** One S3 request Uppy 6's `@uppy/aws-s3` (6.3) asks `signRequest` to sign: its `PresignableRequest`. */
export interface UppyS3Request {
  method: string;
  key: string;
  uploadId?: string;
  partNumber?: number;
  contentType?: string;
  expiresIn?: number;
}

/** The answer `signRequest` gives Uppy 6: its `PresignedResponse` (never with `fields`: no POST policy here). */
export interface UppyS3Signature {
  url: string;
  /** The gateway's request key: Uppy names the upload by it from then on (`file.s3Multipart.key`). */
  key?: string;
  /** Headers the PUT must send (a small file's single PUT is signed for its type and for `If-None-Match: *`). */
  headers?: Record<string, string>;
}

export interface GatewaySignRequestOptions extends GatewayUppyOptions {
  /**
   * The Uppy instance the plugin goes on. Uppy 6 has no hook after a small file's single PUT, so a post-processing
   * step registered on it completes those uploads on the gateway (`POST /success/{requestKey}`).
   */
  uppy: UppyForGateway;
}

/** The file fields the options read (Uppy 6's `UppyFile` has them). */
interface FileFacts {
  id: string;
  name?: string | null;
  size: number | null;
  type?: string;
}

/** What Uppy 6's `AwsS3` takes from these options; spread them and add Uppy's own (`limit`, …). */
export interface GatewaySignRequestPluginOptions {
  signRequest: (request: UppyS3Request) => Promise<UppyS3Signature>;
  shouldUseMultipart: (file: FileFacts) => boolean;
  getChunkSize: (file: { size: number }) => number;
  generateObjectKey: (file: FileFacts) => string;
}

/** A request `signRequest` will not sign: outside the plan of every upload these options started or resumed. */
export class S3RequestRefusedError extends Error {
  constructor(
    readonly request: UppyS3Request,
    reason: string,
  ) {
    super(`Upload Gateway: refused to sign ${describeRequest(request)}: ${reason}`);
    this.name = "S3RequestRefusedError";
  }
}

/** One multipart upload as the gateway planned it, and the part URLs it signed. */
interface PlannedUpload {
  uploadId: string;
  partsNumber: number;
  urls: Map<number, string>;
  /** Parts whose URL Uppy was given: asked again, the PUT failed (expired, refused), so the URL is signed anew. */
  handedOut: Set<number>;
}

/**
 * Options for Uppy 6's `@uppy/aws-s3` (6.3 or later) that upload through an Upload Gateway:
 * `uppy.use(AwsS3, gatewaySignRequestOptions({ uppy, baseUrl, getToken, projectId }))`.
 *
 * Uppy 6 sends each S3 request itself, to the URL `signRequest` gives; each maps to the gateway's plan:
 * - create (`POST key`) → the gateway's start (`POST /multipart`) with the part plan Uppy's chunks follow
 *   (`getChunkSize`); the reply names the upload by its request key;
 * - upload part (`PUT key uploadId partNumber`) → the presigned part URL the gateway gave (signed anew through
 *   `POST /multipart-resume` when asked again after a failed PUT);
 * - list parts (`GET key uploadId`) → `POST /multipart-resume`: the stored parts, fresh URLs for the others;
 * - complete (`POST key uploadId`) → `PUT /multipart-complete` with the parts the store holds, then the download URL;
 * - abort (`DELETE key uploadId`) → `PUT /multipart-abort`;
 * - put object (`PUT key`, files up to one part) → `POST /url`; the step on `uppy` completes it after the PUT.
 * The gateway's answers reach Uppy as S3's XML in `data:` URLs (`s3-replies.ts`); only bytes go to the store.
 * Anything else (a part outside the plan, another upload id or key, a method S3 uploads do not use) is refused
 * with an `S3RequestRefusedError`, which fails the file.
 */
export function gatewaySignRequestOptions(options: GatewaySignRequestOptions): GatewaySignRequestPluginOptions {
  const { projectId, presignedUrlExpiryTimeHours, uppy } = options;
  if (!uppy || typeof uppy.addPostProcessor !== "function" || typeof uppy.on !== "function") {
    throw new TypeError("gatewaySignRequestOptions() needs `uppy`: the Uppy 6 instance the AwsS3 plugin is used on");
  }
  const { client, largestPart } = gatewayConnection(options, "gatewaySignRequestOptions");
  /** Files Uppy named a key for (`generateObjectKey`) and has not asked to create or put yet. */
  const named = new Map<string, FileFacts>();
  const uploads = new Map<string, PlannedUpload>();
  /** Single-PUT uploads by Uppy file id: completed after the PUT by the post-processing step. */
  const singlePuts = new Map<string, string>();
  let keys = 0;

  completeSinglePuts(uppy, client, projectId, singlePuts, (requestKey) => abortQuietly(client, projectId, requestKey));

  const chunkSize = (size: number) => uppyPartPlan(size, largestPart).partSize;

  const remember = (requestKey: string, reply: StartUploadResult | ResumeUploadResult): PlannedUpload => {
    const upload = {
      uploadId: reply.uploadId,
      partsNumber: reply.partsNumber,
      urls: new Map(reply.presignedUrl.map((u) => [u.partNumber, u.presignedUrl])),
      handedOut: new Set<number>(),
    };
    uploads.set(requestKey, upload);
    return upload;
  };

  const resume = (requestKey: string) => client.resume(projectId, { requestKey, presignedUrlExpiryTimeHours });

  /** The upload a request names: one these options started or listed, with the same upload id. */
  const plannedUpload = (request: UppyS3Request): PlannedUpload => {
    const upload = uploads.get(request.key);
    if (!upload) throw new S3RequestRefusedError(request, "no upload with this key was started or resumed here");
    if (upload.uploadId !== request.uploadId) {
      throw new S3RequestRefusedError(request, `the upload with this key has upload id ${upload.uploadId}`);
    }
    return upload;
  };

  /** The file Uppy named this key for; each key starts one upload. */
  const namedFile = (request: UppyS3Request): FileFacts => {
    const file = named.get(request.key);
    if (!file) throw new S3RequestRefusedError(request, "the key is not one these options gave Uppy for a new file");
    named.delete(request.key);
    return file;
  };

  async function create(request: UppyS3Request): Promise<UppyS3Signature> {
    const started = await startInUppysPlan(
      client,
      projectId,
      namedFile(request),
      largestPart,
      presignedUrlExpiryTimeHours,
    );
    remember(started.requestKey, started);
    return { url: initiateReply(started.requestKey, started.uploadId), key: started.requestKey };
  }

  async function part(request: UppyS3Request): Promise<UppyS3Signature> {
    let upload = plannedUpload(request);
    const partNumber = request.partNumber!;
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > upload.partsNumber) {
      throw new S3RequestRefusedError(request, `the upload's plan has parts 1 to ${upload.partsNumber}`);
    }
    if (!upload.urls.has(partNumber) || upload.handedOut.has(partNumber)) {
      upload = remember(request.key, await resume(request.key));
    }
    const url = upload.urls.get(partNumber);
    if (!url) {
      throw new Error(`Part ${partNumber} of upload ${request.key} is already stored: resume the upload to finish it.`);
    }
    upload.handedOut.add(partNumber);
    return { url };
  }

  async function list(request: UppyS3Request): Promise<UppyS3Signature> {
    // Any key may be listed: a file restored after a reload (Golden Retriever) resumes by its request key, which the
    // gateway checks belongs to this credential's uploads.
    const resumed = await resume(request.key);
    if (resumed.uploadId !== request.uploadId) {
      throw new S3RequestRefusedError(request, `the upload with this key has upload id ${resumed.uploadId}`);
    }
    const plan = uppyPartPlan(Number(resumed.contentLength), largestPart);
    if (plan.partSize !== resumed.partSize || plan.partsNumber !== resumed.partsNumber) {
      throw new S3RequestRefusedError(
        request,
        `the upload was planned in ${resumed.partsNumber} parts of ${resumed.partSize} bytes, ` +
          `Uppy would cut ${plan.partsNumber} of ${plan.partSize} (was partSize changed?)`,
      );
    }
    remember(request.key, resumed);
    return { url: listPartsReply(request.key, resumed.uploadId, resumed.uploadedParts) };
  }

  async function complete(request: UppyS3Request): Promise<UppyS3Signature> {
    plannedUpload(request);
    // The plugin's own list of ETags goes to the reply's URL, not here: complete with the parts the store holds,
    // which the gateway checks against its plan (every part, each of the planned size).
    const resumed = await resume(request.key);
    if (resumed.presignedUrl.length > 0) {
      const missing = resumed.presignedUrl.map((u) => u.partNumber).join(", ");
      throw new Error(`Upload ${request.key}: the store does not hold part(s) ${missing} yet; retry to send them.`);
    }
    const parts = resumed.uploadedParts
      .map((p) => ({ partNumber: p.partNumber, eTag: p.eTag }))
      .sort((a, b) => a.partNumber - b.partNumber);
    await client.complete(projectId, { requestKey: request.key, parts });
    uploads.delete(request.key);
    const { downloadPath } = await client.downloadUrl(projectId, request.key);
    return { url: completeReply(request.key, downloadPath) };
  }

  async function abort(request: UppyS3Request): Promise<UppyS3Signature> {
    plannedUpload(request);
    uploads.delete(request.key);
    await abortQuietly(client, projectId, request.key);
    return { url: ABORTED_REPLY };
  }

  async function putObject(request: UppyS3Request): Promise<UppyS3Signature> {
    const file = namedFile(request);
    const mimeType = file.type || OCTET_STREAM;
    const answer: SinglePutUploadResult & { headers?: Record<string, string> } = await client.startSinglePut(
      projectId,
      { fileName: fileNameOf(file), contentLength: String(file.size ?? 0), mimeType, presignedUrlExpiryTimeHours },
    );
    // A retry of this file after a failed PUT: its earlier upload will never be completed (the file may even be
    // stored, its reply lost); abort it rather than leave it open.
    const earlier = singlePuts.get(file.id);
    if (earlier !== undefined) void abortQuietly(client, projectId, earlier).catch(() => undefined);
    singlePuts.set(file.id, answer.requestKey);
    // The gateway names the headers its URL was signed with; one that does not yet says so needs the type and
    // If-None-Match: * (the URL stores the file once).
    const headers = answer.headers ?? { "Content-Type": mimeType, "If-None-Match": "*" };
    return { url: answer.url, key: answer.requestKey, headers };
  }

  return {
    // An empty file has no part: Uppy sends it in one PUT whatever this says.
    shouldUseMultipart: ({ size }) => !!size && size > chunkSize(size),
    getChunkSize: ({ size }) => chunkSize(size),
    generateObjectKey(file) {
      // Uppy asks again each time the file's upload starts (a resume too): only the newest key stands for the file.
      for (const [key, earlier] of named) if (earlier.id === file.id) named.delete(key);
      keys += 1;
      const key = `upload-gateway-file-${keys}-${Math.random().toString(36).slice(2, 10)}`;
      named.set(key, { id: file.id, name: file.name, size: file.size, type: file.type });
      return key;
    },
    async signRequest(request) {
      const method = String(request.method).toUpperCase();
      const hasUploadId = request.uploadId !== undefined;
      const hasPart = request.partNumber !== undefined;
      if (method === "POST" && !hasUploadId && !hasPart) return create(request);
      if (method === "PUT" && !hasUploadId && !hasPart) return putObject(request);
      if (method === "PUT" && hasUploadId && hasPart) return part(request);
      if (method === "GET" && hasUploadId && !hasPart) return list(request);
      if (method === "POST" && hasUploadId && !hasPart) return complete(request);
      if (method === "DELETE" && hasUploadId && !hasPart) return abort(request);
      throw new S3RequestRefusedError(request, "not a request of an upload through the gateway");
    },
  };
}

/** Aborts an upload on the gateway; one already completed or aborted (404, 409) has nothing left to abort. */
async function abortQuietly(client: ApiClient, projectId: string, requestKey: string): Promise<void> {
  try {
    await client.abort(projectId, requestKey);
  } catch (error) {
    if (!(error instanceof UploadGatewayError && (error.status === 404 || error.status === 409))) throw error;
  }
}

function describeRequest(request: UppyS3Request): string {
  const extra = [
    request.uploadId !== undefined ? `uploadId ${request.uploadId}` : "",
    request.partNumber !== undefined ? `part ${request.partNumber}` : "",
  ].filter(Boolean);
  return `${String(request.method)} ${JSON.stringify(request.key)}${extra.length ? ` (${extra.join(", ")})` : ""}`;
}
