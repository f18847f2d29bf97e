import {
  wrote,
  type DocumentStore,
  type KeyPage,
  type StoredDocument,
  type WriteConditions,
  type WrittenDocument,
} from "./document-store.port";
import { turn } from "./memory-turn";

/**
 * The `DocumentStore` port in memory: a real adapter, held to the same conformance suite as the embedded and S3 stores
 * (test/storage.conformance.test.ts). Every operation starts on a later turn of the event loop, as a store's reply
 * would, then does its check and its change in one synchronous step, so of conditional writes on one version exactly
 * one wins.
 */
export class MemoryDocumentStore implements DocumentStore {
  private readonly documents = new Map<string, { json: string; version: string }>();
  private writes = 0;

  async readJson(key: string): Promise<unknown> {
    return (await this.readDocument(key))?.value;
  }

  async readDocument(key: string): Promise<StoredDocument | undefined> {
    await turn();
    const document = this.documents.get(key);
    return document && { value: JSON.parse(document.json) as unknown, version: document.version };
  }

  writeJson(key: string, value: unknown, options?: WriteConditions): Promise<boolean> {
    return wrote(this.writeDocument(key, value, options));
  }

  async writeDocument(key: string, value: unknown, when: WriteConditions = {}): Promise<WrittenDocument | undefined> {
    await turn();
    const current = this.documents.get(key);
    if (when.ifNoneMatch && current) return undefined;
    if (when.ifMatch !== undefined && current?.version !== when.ifMatch) return undefined;
    // A new version with every write, so a compare-and-swap never mistakes a rewrite for the version it read.
    const version = `v${++this.writes}`;
    this.documents.set(key, { json: JSON.stringify(value), version });
    return { version };
  }

  async listKeys(prefix: string, options: { startAfter?: string; limit: number }): Promise<KeyPage> {
    await turn();
    const { startAfter, limit } = options;
    const keys = [...this.documents.keys()]
      .filter((key) => key.startsWith(prefix) && (startAfter === undefined || key > startAfter))
      .sort();
    return { keys: keys.slice(0, limit), isTruncated: keys.length > limit };
  }

  async deleteDocument(key: string): Promise<void> {
    await turn();
    this.documents.delete(key);
  }

  async checkReady(): Promise<void> {
    await turn();
  }
}
