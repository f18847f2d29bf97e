import { UploadGatewayError, type ApiClient } from "@upload-gateway/client";
import AwsS3, { type AwsS3Options, type AwsS3Part, type AwsS3UploadParameters } from "@uppy/aws-s3";
import type { Body, Meta, UppyFile } from "@uppy/core";
import {
  fileNameOf,
  gatewayConnection,
  OCTET_STREAM,
  startInUppysPlan,
  type GatewayUppyOptions,
} from "./gateway-connection";
import { uppyPartPlan } from "./part-plan";

export type { GatewayUppyOptions };

type SinglePutCall = {
  startSinglePut?: (
    projectId: string,
    body: { fileName: string; contentLength: string; mimeType: string; presignedUrlExpiryTimeHours?: number },
  ) => Promise<{ url: string; requestKey: string }>;
};

/** Part URLs of one multipart upload, as the gateway signed them. */
interface SignedParts {
  urls: Map<number, string>;
  /** Parts whose URL Uppy was given: asked again, the PUT failed (expired, refused), so the URL is signed anew. */
  handedOut: Set<number>;
}

/**
 * Options for Uppy 5's `@uppy/aws-s3` that upload through an Upload Gateway:
 * `uppy.use(AwsS3, gatewayS3Options({ client, projectId }))`.
 *
 * - Multipart from the first byte above one part (Uppy's default waits until 100 MiB), in chunks equal to the
 *   gateway's part plan (`getChunkSize`), so that complete finds every part the size it planned.
 * - Part URLs come from the start's reply; a part asked for again (a retry after an expired or refused URL, or a
 *   resume) gets a fresh URL through the gateway's resume endpoint, which `listParts` uses as well.
 * - Files up to one part go up in one PUT (`POST /url`, then `POST /success/{requestKey}` completes them), where the
 *   client has `startSinglePut`.
 * - Cancel aborts the upload on the gateway. Each upload's `requestKey` is Uppy's `s3Multipart.key`; on success the
 *   file's `uploadURL` is a time-limited download URL.
 */
export function gatewayS3Options<M extends Meta, B extends Body>(options: GatewayUppyOptions): AwsS3Options<M, B> {
  const { projectId, presignedUrlExpiryTimeHours } = options;
  const { client, largestPart } = gatewayConnection(options, "gatewayS3Options");
  const singlePut = (client as ApiClient & SinglePutCall).startSinglePut?.bind(client);
  const signed = new Map<string, SignedParts>();
  /** Single-PUT URLs handed to Uppy, with their upload's request key: the PUT is followed by the completing call. */
  const singlePuts = new Map<string, { requestKey: string; attempts: number }>();

  const chunkSize = (size: number) => uppyPartPlan(size, largestPart).partSize;

  /** Fresh URLs for the parts not stored yet, and the parts stored, from the resume endpoint. */
  const resign = async (requestKey: string, signal?: AbortSignal) => {
    const resumed = await client.resume(projectId, { requestKey, presignedUrlExpiryTimeHours }, { signal });
    signed.set(requestKey, {
      urls: new Map(resumed.presignedUrl.map((u) => [u.partNumber, u.presignedUrl])),
      handedOut: new Set(),
    });
    return resumed.uploadedParts;
  };

  /** Completes the upload's bookkeeping and gets a download URL for Uppy's `uploadURL`. */
  const downloadUrl = async (requestKey: string) => (await client.downloadUrl(projectId, requestKey)).downloadPath;

  return {
    // Uppy uses one PUT for files of 5 MiB or less whatever this says.
    shouldUseMultipart: (file: UppyFile<M, B>) => !singlePut || (file.size ?? 0) > chunkSize(file.size ?? 0),
    getChunkSize: ({ size }: { size: number }) => chunkSize(size),

    async createMultipartUpload(file: UppyFile<M, B>) {
      const started = await startInUppysPlan(client, projectId, file, largestPart, presignedUrlExpiryTimeHours);
      signed.set(started.requestKey, {
        urls: new Map(started.presignedUrl.map((u) => [u.partNumber, u.presignedUrl])),
        handedOut: new Set(),
      });
      return { uploadId: started.uploadId, key: started.requestKey };
    },

    async signPart(_file: UppyFile<M, B>, { key, partNumber, signal }): Promise<AwsS3UploadParameters> {
      let parts = signed.get(key);
      if (!parts?.urls.has(partNumber) || parts.handedOut.has(partNumber)) {
        await resign(key, signal);
        parts = signed.get(key)!;
      }
      const url = parts.urls.get(partNumber);
      if (!url)
        throw new Error(`Part ${partNumber} of upload ${key} is already stored: resume the upload to finish it.`);
      parts.handedOut.add(partNumber);
      return { method: "PUT", url };
    },

    async listParts(_file: UppyFile<M, B>, { key, signal }): Promise<AwsS3Part[]> {
      const stored = await resign(key, signal);
      return stored.map((p) => ({ PartNumber: p.partNumber, ETag: p.eTag, Size: p.size }));
    },

    async completeMultipartUpload(_file: UppyFile<M, B>, { key, parts, signal }) {
      const completed = parts
        .filter(
          (p): p is Required<Pick<AwsS3Part, "PartNumber" | "ETag">> =>
            p.PartNumber !== undefined && p.ETag !== undefined,
        )
        .map((p) => ({ partNumber: p.PartNumber, eTag: p.ETag }))
        .sort((a, b) => a.partNumber - b.partNumber);
      await client.complete(projectId, { requestKey: key, parts: completed }, { signal });
      signed.delete(key);
      return { location: await downloadUrl(key) };
    },

    async abortMultipartUpload(_file: UppyFile<M, B>, { key }) {
      signed.delete(key);
      try {
        await client.abort(projectId, key);
      } catch (error) {
        // Already completed or aborted (another tab, a retry whose first reply was lost): nothing left to abort.
        if (!(error instanceof UploadGatewayError && (error.status === 404 || error.status === 409))) throw error;
      }
    },

    async getUploadParameters(file: UppyFile<M, B>): Promise<AwsS3UploadParameters> {
      if (!singlePut) {
        throw new Error(
          "Files of 5 MiB or less go up in one PUT with Uppy: that needs a client with startSinglePut (POST /url).",
        );
      }
      const mimeType = file.type || OCTET_STREAM;
      const { url, requestKey, headers } = await singlePut(projectId, {
        fileName: fileNameOf(file),
        contentLength: String(file.size ?? 0),
        mimeType,
        presignedUrlExpiryTimeHours,
      });
      singlePuts.set(url, { requestKey, attempts: 0 });
      // The PUT sends exactly the headers the URL is signed for, as the gateway lists them; a gateway from before
      // `headers` signed the type (a Blob without a type would send none) and If-None-Match: * (it stores once).
      return { method: "PUT", url, headers: headers ?? { "Content-Type": mimeType, "If-None-Match": "*" } };
    },

    async uploadPartBytes(request) {
      const single = singlePuts.get(request.signature.url);
      if (single === undefined) return AwsS3.uploadPartBytes(request);
      single.attempts += 1;
      let result: Awaited<ReturnType<typeof AwsS3.uploadPartBytes>>;
      try {
        result = await AwsS3.uploadPartBytes(request);
      } catch (error) {
        // 412 on a retry: the URL stores once, and an earlier attempt stored the file but its reply was lost. The
        // gateway confirms the stored file's size when completing; on a first attempt the file is someone else's.
        if (single.attempts === 1 || (error as { source?: { status?: number } }).source?.status !== 412) throw error;
        result = { ETag: "" };
      }
      // A single PUT is complete once the gateway has checked the stored file.
      singlePuts.delete(request.signature.url);
      return { ...result, location: await downloadUrl(single.requestKey) };
    },
  };
}
