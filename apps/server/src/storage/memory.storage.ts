import { ServedCombinedStorage } from "./combined-storage";
import { MemoryDocumentStore } from "./memory-document.store";
import { MemoryObjectStore, type MemoryObjectStoreOptions } from "./memory-object.store";

export type MemoryStorageOptions = MemoryObjectStoreOptions;

/**
 * The `Storage` port in memory: `MemoryObjectStore` and `MemoryDocumentStore` together, for unit tests of what is built
 * on the port (the upload workflow) and for development without a disk. Its URLs have the embedded store's layout, so
 * the same routes serve them (test/support/memory-store.ts).
 */
export class MemoryStorage extends ServedCombinedStorage<MemoryObjectStore, MemoryDocumentStore> {
  constructor(options: MemoryStorageOptions = {}) {
    super(new MemoryObjectStore(options), new MemoryDocumentStore());
  }
}
