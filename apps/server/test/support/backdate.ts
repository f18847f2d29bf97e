import { expect } from "vitest";
import { DueIndex } from "../../src/scheduling/due-index";
import type { Storage } from "../../src/storage/storage.port";
import { EXPIRY_KIND } from "../../src/uploads/expiry-schedule";
import { openSlotKey, recordKey } from "../../src/uploads/upload-keys";

/**
 * Moves an upload's URL expiry `secondsAgo` into the past, as if that much time had gone by (URLs last an hour at
 * least): in its record and its open-upload marker, and the due index's entry of the window it now ends in (which
 * its start would have written).
 */
export async function backdateUpload(
  store: Storage,
  projectId: string,
  requestKey: string,
  secondsAgo: number,
): Promise<void> {
  const key = recordKey(projectId, requestKey);
  const document = (await store.readDocument(key))!;
  const expiresAt = new Date(Date.now() - secondsAgo * 1000).toISOString();
  const record = { ...(document.value as { openSlot: number }), urlsExpireAt: expiresAt };
  expect(await store.writeJson(key, record, { ifMatch: document.version })).toBe(true);
  const marker = (await store.readJson(openSlotKey(projectId, record.openSlot))) as object;
  await store.writeJson(openSlotKey(projectId, record.openSlot), { ...marker, expiresAt });
  await new DueIndex(store).schedule(EXPIRY_KIND, projectId, Date.now() - secondsAgo * 1000);
}
