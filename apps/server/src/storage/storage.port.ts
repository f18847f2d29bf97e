import type { DocumentStore } from "./document-store.port";
import type { ObjectStore } from "./object-store.port";

export * from "./document-store.port";
export * from "./object-store.port";
export * from "./storage-error";

/**
 * What the gateway runs on: an object store (the uploaded files) and a document store (the JSON records beside them)
 * together, as every adapter here provides both (S3: one bucket; the embedded store: one data dir; memory). The two
 * share one key space, laid out in uploads/upload-keys.ts: a key holds an object or a document, never both.
 *
 * On this combination `deleteObject` deletes whatever the key holds, a document too (as it always did): callers that
 * delete documents with it keep working. New code deletes documents with `deleteDocument`, and takes the smaller
 * port it needs (`ObjectStore` or `DocumentStore`) where it needs only one.
 */
export interface Storage extends ObjectStore, DocumentStore {}
