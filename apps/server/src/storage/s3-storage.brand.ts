/**
 * Marks the S3 adapter, so that code can tell one (an adapter an embedding app made, say) without importing its class,
 * which would load the AWS SDK: about a fifth of the gateway's start-up CPU, spent for nothing on the embedded store.
 */
export const S3_STORAGE_BRAND = Symbol.for("upload-gateway.s3-storage");

/** Whether `storage` is the S3 adapter (or a subclass of it). */
export function isS3Storage(storage: object): boolean {
  return S3_STORAGE_BRAND in storage;
}
