import type { DocumentStore } from "./document-store.port";

/** The store lists at most this many keys a page (S3's own limit). */
export const LIST_PAGE = 1000;

/**
 * Every key under `prefix`, ascending, fetched a page of `pageSize` at a time as the loop asks for more; leave the
 * loop to stop listing. Keys deleted meanwhile are harmless: each page starts after the last key seen.
 */
export async function* keysUnder(
  storage: Pick<DocumentStore, "listKeys">,
  prefix: string,
  pageSize = LIST_PAGE,
): AsyncGenerator<string> {
  let startAfter: string | undefined;
  for (;;) {
    const page = await storage.listKeys(prefix, {
      limit: pageSize,
      ...(startAfter !== undefined ? { startAfter } : {}),
    });
    yield* page.keys;
    if (!page.isTruncated || page.keys.length === 0) return;
    startAfter = page.keys.at(-1);
  }
}
