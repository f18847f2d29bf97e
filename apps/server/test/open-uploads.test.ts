import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Storage } from "../src/storage/storage.port";
import { STORAGE } from "../src/tokens";
import { openSlotKey, openSlotPrefix } from "../src/uploads/upload-keys";
import { startGateway, type TestGateway } from "./support/gateway";
import { call } from "./support/http";

// `maxOpenUploads` (3 for the test's limited project), on both stores.

describe.each(["local", "s3"] as const)("maxOpenUploads: %s", (store) => {
  let gw: TestGateway;
  const uploads = () => `/api/projects/${gw.limitedProjectId}/uploads`;

  beforeAll(async () => {
    gw = await startGateway({}, store);
  });
  afterAll(async () => {
    await gw?.close();
  });

  const start = (extra: Record<string, unknown> = {}) =>
    call(gw.app, "POST", `${uploads()}/multipart`, {
      body: { partsNumber: 1, fileName: "a.mp4", contentLength: "4", mimeType: "video/mp4", ...extra },
      headers: gw.auth,
    });
  const abort = (requestKey: string) =>
    call(gw.app, "PUT", `${uploads()}/multipart-abort`, { body: { requestKey }, headers: gw.auth });
  const markers = async () =>
    (await gw.app.get<Storage>(STORAGE).listKeys(openSlotPrefix(gw.limitedProjectId), { limit: 100 })).keys.length;

  function expectTooMany(reply: { status: number; body: any }) {
    expect(reply.status, JSON.stringify(reply.body)).toBe(429);
    expect(reply.body).toMatchObject({ success: false, statusCode: 429, result: null });
    expect(reply.body.errorDetails).toEqual([
      { code: "TOO_MANY_OPEN_UPLOADS", message: expect.stringContaining("3 uploads in progress"), retryable: false },
    ]);
  }

  it("refuses one start more than the limit with 429; completing, aborting or a failed start leaves a place", async () => {
    const open: string[] = [];
    const fileHash = `sha256:${randomBytes(32).toString("hex")}`;
    for (let i = 0; i < 2; i++) {
      const reply = await start(i === 0 ? { enableDuplicateCheck: true, fileHash } : {});
      expect(reply.status).toBe(200);
      open.push(reply.body.result.requestKey);
    }
    // A start refused for another reason takes no place.
    expect((await start({ enableDuplicateCheck: true, fileHash })).status).toBe(409);
    const third = await start();
    expect(third.status).toBe(200);
    open.push(third.body.result.requestKey);
    expectTooMany(await start());
    expect(await markers()).toBe(3);

    // Aborting one frees its place (once: aborting it again frees nothing more).
    expect((await abort(open[0]!)).status).toBe(200);
    expect((await abort(open[0]!)).status).toBe(200);
    const fourth = await start();
    expect(fourth.status).toBe(200);
    expectTooMany(await start());

    // Completing one frees its place too.
    const { presignedUrl, requestKey } = third.body.result as {
      requestKey: string;
      presignedUrl: { presignedUrl: string }[];
    };
    const put = await fetch(presignedUrl[0]!.presignedUrl, { method: "PUT", body: "abcd" });
    const done = await call(gw.app, "PUT", `${uploads()}/multipart-complete`, {
      body: { requestKey, parts: [{ partNumber: 1, eTag: put.headers.get("etag")! }] },
      headers: gw.auth,
    });
    expect(done.status).toBe(200);
    const fifth = await start();
    expect(fifth.status).toBe(200);
    expectTooMany(await start());

    // Other projects are not affected.
    expect(
      (
        await call(gw.app, "POST", `/api/projects/${gw.projectId}/uploads/multipart`, {
          body: { partsNumber: 1, fileName: "a.mp4", contentLength: "4", mimeType: "video/mp4" },
          headers: gw.auth,
        })
      ).status,
    ).toBe(200);

    for (const key of [open[1]!, fourth.body.result.requestKey, fifth.body.result.requestKey]) {
      expect((await abort(key as string)).status).toBe(200);
    }
    expect(await markers()).toBe(0);
  });

  it("lets no more than the limit through when starts race for the places", async () => {
    const first = await start();
    expect(first.status).toBe(200);
    const replies = await Promise.all(Array.from({ length: 8 }, () => start()));
    const through = replies.filter((r) => r.status === 200);
    for (const reply of replies.filter((r) => r.status !== 200)) expectTooMany(reply);
    expect(through.length).toBeLessThanOrEqual(2);
    // Refused starts left no marker behind: the places not taken can be taken now, one by one.
    expect(await markers()).toBe(1 + through.length);
    const open = [first, ...through].map((r) => r.body.result.requestKey as string);
    while (open.length < 3) {
      const reply = await start();
      expect(reply.status).toBe(200);
      open.push(reply.body.result.requestKey);
    }
    expectTooMany(await start());
    for (const key of open) expect((await abort(key)).status).toBe(200);
  });

  it("takes over the places of markers a killed process leaked, but not of a start still in flight", async () => {
    const own = await startGateway({}, store);
    try {
      const storage = own.app.get<Storage>(STORAGE);
      const api = `/api/projects/${own.limitedProjectId}/uploads`;
      const body = { partsNumber: 1, fileName: "a.mp4", contentLength: "4", mimeType: "video/mp4" };
      const ownStart = () => call(own.app, "POST", `${api}/multipart`, { body, headers: own.auth });
      const marker = (slot: number, requestKey: string, ageMs: number) =>
        storage.writeJson(openSlotKey(own.limitedProjectId, slot), {
          requestKey,
          createdAt: new Date(Date.now() - ageMs).toISOString(),
        });
      const markersNow = async () => {
        const { keys } = await storage.listKeys(openSlotPrefix(own.limitedProjectId), { limit: 100 });
        return Promise.all(keys.map(async (k) => ((await storage.readJson(k)) as { requestKey: string }).requestKey));
      };
      // An upload aborted more than a minute ago whose process died before removing its marker: the record says
      // when it ended.
      const ended = await ownStart();
      expect(ended.status).toBe(200);
      const endedKey = ended.body.result.requestKey as string;
      expect(
        (await call(own.app, "PUT", `${api}/multipart-abort`, { body: { requestKey: endedKey }, headers: own.auth }))
          .status,
      ).toBe(200);
      const recordKeyOf = `projects/${own.limitedProjectId}/uploads/${endedKey}.json`;
      const record = (await storage.readJson(recordKeyOf)) as Record<string, unknown>;
      await storage.writeJson(recordKeyOf, { ...record, updatedAt: new Date(Date.now() - 120_000).toISOString() });
      await marker(0, endedKey, 120_000);
      // Killed between the marker and the record, two minutes ago.
      await marker(1, "a".repeat(32), 120_000);
      // A start that has written its marker this very moment and not yet its record.
      await marker(2, "b".repeat(32), 0);
      expect(await markersNow()).toHaveLength(3);

      // Each start takes over one leaked place; the start in flight keeps its own.
      const first = await ownStart();
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      const second = await ownStart();
      expect(second.status, JSON.stringify(second.body)).toBe(200);
      expect((await markersNow()).sort()).toEqual(
        ["b".repeat(32), first.body.result.requestKey, second.body.result.requestKey].sort(),
      );
      expect((await ownStart()).status).toBe(429);
    } finally {
      await own.close();
    }
  });
});
