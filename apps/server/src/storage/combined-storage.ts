import {
  writeVersioned,
  type DocumentStore,
  type KeyPage,
  type StoredDocument,
  type WriteConditions,
  type WrittenDocument,
} from "./document-store.port";
import type { SignedGrant } from "./local-url-signer";
import type {
  CompletedPart,
  DownloadOptions,
  ObjectHead,
  ObjectMetadata,
  ObjectStore,
  ObjectStream,
  PlannedPart,
  SignedPut,
  SinglePutObject,
  StoredPartInfo,
} from "./object-store.port";
import type { ServedStore, StoredObject } from "./served-store";
import type { Storage } from "./storage.port";

/**
 * `Storage` made of an object store and a document store that are two classes (the embedded and the in-memory
 * stores; S3 is one class, its one bucket holding both). Each call goes to the store it belongs to; `deleteObject`,
 * which on `Storage` deletes whatever the key holds, goes to both.
 */
export class CombinedStorage<O extends ObjectStore, D extends DocumentStore> implements Storage {
  readonly partETagsAreMd5: boolean;
  readonly urlOrigin: string;

  constructor(
    readonly objects: O,
    readonly documents: D,
  ) {
    this.partETagsAreMd5 = objects.partETagsAreMd5;
    this.urlOrigin = objects.urlOrigin;
  }

  createMultipartUpload(key: string, object: ObjectMetadata): Promise<string> {
    return this.objects.createMultipartUpload(key, object);
  }

  presignUploadParts(key: string, uploadId: string, parts: readonly PlannedPart[], expires: number): Promise<string[]> {
    return this.objects.presignUploadParts(key, uploadId, parts, expires);
  }

  listParts(key: string, uploadId: string): Promise<StoredPartInfo[]> {
    return this.objects.listParts(key, uploadId);
  }

  completeMultipartUpload(key: string, uploadId: string, parts: CompletedPart[]): Promise<void> {
    return this.objects.completeMultipartUpload(key, uploadId, parts);
  }

  abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    return this.objects.abortMultipartUpload(key, uploadId);
  }

  presignPutObject(key: string, object: SinglePutObject, expiresInSeconds: number): Promise<SignedPut> {
    return this.objects.presignPutObject(key, object, expiresInSeconds);
  }

  presignDownload(key: string, expiresInSeconds: number, options?: DownloadOptions): Promise<string> {
    return this.objects.presignDownload(key, expiresInSeconds, options);
  }

  objectSize(key: string): Promise<number | undefined> {
    return this.objects.objectSize(key);
  }

  objectHead(key: string): Promise<ObjectHead | undefined> {
    return this.objects.objectHead(key);
  }

  readObjectRange(key: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    return this.objects.readObjectRange(key, offset, length);
  }

  moveObject(fromKey: string, toKey: string): Promise<boolean> {
    return this.objects.moveObject(fromKey, toKey);
  }

  streamObject(key: string): Promise<ObjectStream | undefined> {
    return this.objects.streamObject(key);
  }

  async deleteObject(key: string): Promise<void> {
    await this.documents.deleteDocument(key);
    await this.objects.deleteObject(key);
  }

  readJson(key: string): Promise<unknown> {
    return this.documents.readJson(key);
  }

  readDocument(key: string): Promise<StoredDocument | undefined> {
    return this.documents.readDocument(key);
  }

  writeJson(key: string, value: unknown, options?: WriteConditions): Promise<boolean> {
    return this.documents.writeJson(key, value, options);
  }

  writeDocument(key: string, value: unknown, options?: WriteConditions): Promise<WrittenDocument | undefined> {
    return writeVersioned(this.documents, key, value, options);
  }

  listKeys(prefix: string, options: { startAfter?: string; limit: number }): Promise<KeyPage> {
    return this.documents.listKeys(prefix, options);
  }

  deleteDocument(key: string): Promise<void> {
    return this.documents.deleteDocument(key);
  }

  async checkReady(): Promise<void> {
    await this.objects.checkReady();
    await this.documents.checkReady();
  }
}

/** A combination whose object store's URLs the gateway serves (local-store-http): what its routes need, passed on. */
export class ServedCombinedStorage<O extends ObjectStore & ServedStore, D extends DocumentStore>
  extends CombinedStorage<O, D>
  implements ServedStore
{
  verifyGrant(grant: SignedGrant, signature: string): "ok" | "expired" | "invalid" {
    return this.objects.verifyGrant(grant, signature);
  }

  writePart(...part: Parameters<ServedStore["writePart"]>): Promise<StoredPartInfo> {
    return this.objects.writePart(...part);
  }

  writeObject(...object: Parameters<ServedStore["writeObject"]>): ReturnType<ServedStore["writeObject"]> {
    return this.objects.writeObject(...object);
  }

  openObject(key: string): Promise<StoredObject | undefined> {
    return this.objects.openObject(key);
  }
}
