import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  S3ServiceException,
  UploadPartCopyCommand,
  type HeadObjectCommandOutput,
  type S3Client,
} from "@aws-sdk/client-s3";
import { MAX_PARTS, MIN_PART_SIZE } from "@upload-gateway/contract";
import { toStorageError } from "./s3-errors";
import { StorageError } from "./storage-error";

/** The largest object one `CopyObject` copies (S3's limit); larger ones are copied in parts. */
export const MAX_COPY_OBJECT_SIZE = 5 * 1024 ** 3;
/** The size of the parts a larger object is copied in, unless 10,000 of them would not hold it (S3's part limit). */
export const COPY_PART_SIZE = 128 * 1024 * 1024;
/** Parts copied at once: each is a request S3 works on for seconds, its bytes never passing through the gateway. */
const COPY_CONCURRENCY = 4;

/** For tests (a multipart copy of a small object on a real store); a deployment leaves both at their defaults. */
export interface S3MoveOptions {
  /** Objects larger than this are copied in parts (`UploadPartCopy`); default and most `MAX_COPY_OBJECT_SIZE`. */
  multipartCopyThreshold?: number;
  /** The parts' size (at least 5 MiB, S3's smallest part); default `COPY_PART_SIZE`. */
  copyPartSize?: number;
}

/**
 * `ObjectStore.moveObject` on S3, which has no move: a copy on the store's side (no byte passes through the gateway),
 * then a delete of the source, so that a failure part-way leaves the object at its key (and maybe at both), never at
 * neither. Up to 5 GiB one `CopyObject` (its type, disposition and metadata copied with it: `MetadataDirective:
 * COPY`); above it a multipart upload of `UploadPartCopy`s, given what a `HeadObject` found, each part copied only
 * from the version the `HeadObject` saw (`x-amz-copy-source-if-match`, and a second `HeadObject` before completing,
 * as RGW ignores the header: an object replaced meanwhile fails the move instead of mixing two versions' bytes),
 * aborted when any part fails.
 */
export class S3ObjectMove {
  private readonly threshold: number;
  private readonly partSize: number;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    options: S3MoveOptions = {},
  ) {
    this.threshold = Math.min(options.multipartCopyThreshold ?? MAX_COPY_OBJECT_SIZE, MAX_COPY_OBJECT_SIZE);
    this.partSize = Math.max(options.copyPartSize ?? COPY_PART_SIZE, MIN_PART_SIZE);
  }

  async move(fromKey: string, toKey: string): Promise<boolean> {
    const head = await this.head(fromKey);
    if (!head) return false;
    if (fromKey === toKey) return true;
    try {
      if ((head.ContentLength ?? 0) > this.threshold) await this.copyInParts(fromKey, toKey, head);
      else await this.copyWhole(fromKey, toKey);
    } catch (error) {
      // Gone meanwhile (a move of it at once finished first, or a delete): nothing to move, as if it had never been.
      if ((await this.head(fromKey)) === undefined) return false;
      throw toStorageError(error);
    }
    await this.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: fromKey }));
    return true;
  }

  private async copyWhole(fromKey: string, toKey: string): Promise<void> {
    const command = new CopyObjectCommand({
      Bucket: this.bucket,
      Key: toKey,
      CopySource: this.copySource(fromKey),
      MetadataDirective: "COPY",
    });
    await this.client.send(command);
  }

  /** A multipart copy: the new object gets what the old one was stored with, as `MetadataDirective: COPY` would. */
  private async copyInParts(fromKey: string, toKey: string, head: HeadObjectCommandOutput): Promise<void> {
    const size = head.ContentLength ?? 0;
    const created = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: toKey,
        ContentType: head.ContentType,
        ContentDisposition: head.ContentDisposition,
        ContentEncoding: head.ContentEncoding,
        ContentLanguage: head.ContentLanguage,
        CacheControl: head.CacheControl,
        Expires: head.Expires,
        WebsiteRedirectLocation: head.WebsiteRedirectLocation,
        Metadata: head.Metadata,
      }),
    );
    const uploadId = created.UploadId;
    if (!uploadId) throw new Error("S3 returned no UploadId");
    const partSize = Math.max(this.partSize, Math.ceil(size / MAX_PARTS));
    const count = Math.ceil(size / partSize);
    const eTags: string[] = [];
    let next = 0;
    let failed = false;
    const copyParts = async () => {
      // Each worker takes the next part until none is left or one has failed (then no new part is started).
      for (let index = next++; index < count && !failed; index = next++) {
        const start = index * partSize;
        const end = Math.min(size, start + partSize) - 1;
        try {
          const out = await this.client.send(
            new UploadPartCopyCommand({
              Bucket: this.bucket,
              Key: toKey,
              UploadId: uploadId,
              PartNumber: index + 1,
              CopySource: this.copySource(fromKey),
              CopySourceRange: `bytes=${start}-${end}`,
              CopySourceIfMatch: head.ETag,
            }),
          );
          const eTag = out.CopyPartResult?.ETag;
          if (!eTag) throw new Error(`S3 returned no ETag for copied part ${index + 1}`);
          eTags[index] = eTag;
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    };
    try {
      // Every worker has ended before the upload is aborted, so no part is stored into an aborted upload.
      const results = await Promise.allSettled(Array.from({ length: Math.min(COPY_CONCURRENCY, count) }, copyParts));
      const failure = results.find((result) => result.status === "rejected");
      if (failure) throw failure.reason;
      // Ceph RGW ignores `x-amz-copy-source-if-match` on UploadPartCopy: a source replaced while its parts were
      // copied is found here, before the parts become an object, and the move fails (to be sent again).
      if ((await this.head(fromKey))?.ETag !== head.ETag) {
        throw new StorageError("unavailable", `${fromKey} was replaced while it was copied to ${toKey}`);
      }
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: toKey,
          UploadId: uploadId,
          MultipartUpload: { Parts: eTags.map((ETag, index) => ({ PartNumber: index + 1, ETag })) },
        }),
      );
    } catch (error) {
      // An upload that a failed abort leaves is removed by the bucket's AbortIncompleteMultipartUpload rule
      // (docs/deploy.md).
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: toKey, UploadId: uploadId }))
        .catch(() => {});
      throw error;
    }
  }

  /** What a `HeadObject` of the key answers; undefined when there is no object. */
  private async head(key: string): Promise<HeadObjectCommandOutput | undefined> {
    try {
      return await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404) return undefined;
      throw toStorageError(error);
    }
  }

  /** `x-amz-copy-source`: the bucket and the key, each segment URL-encoded. */
  private copySource(key: string): string {
    return `${this.bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
  }

  private async send(command: DeleteObjectCommand): Promise<void> {
    try {
      await this.client.send(command);
    } catch (error) {
      throw toStorageError(error);
    }
  }
}
