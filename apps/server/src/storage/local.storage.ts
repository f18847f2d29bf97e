import { ServedCombinedStorage } from "./combined-storage";
import { LocalDataDir } from "./local-data-dir";
import { LocalDocumentStore } from "./local-document.store";
import { LocalObjectStore, type LocalObjectStoreOptions } from "./local-object.store";

export type { StoredObject } from "./served-store";

export interface LocalStorageOptions extends LocalObjectStoreOptions {
  /** Where data, parts and records live; survives restarts. */
  dir: string;
  /** Called with problems an operator should know about (a data dir other users can read). */
  warn?: (message: string) => void;
}

/**
 * The embedded store: the `Storage` port on the local disk, one data dir holding the uploaded objects
 * (`LocalObjectStore`: multipart/, closing/, blobs/) and the JSON documents (`LocalDocumentStore`: objects/), with
 * tmp/ and trash/ shared (`LocalDataDir`). Opening it finishes what a killed process left (see each store). Its part
 * and download URLs are served by the local-store-http module.
 */
export class LocalStorage extends ServedCombinedStorage<LocalObjectStore, LocalDocumentStore> {
  constructor(options: LocalStorageOptions) {
    const dataDir = new LocalDataDir(options.dir, options.warn);
    super(new LocalObjectStore(dataDir, options), new LocalDocumentStore(dataDir));
  }
}
