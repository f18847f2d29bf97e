import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  UploadRefusedError,
  type UploadHookContext,
  type UploadLifecycleHooks,
} from "../src/uploads/lifecycle/upload-lifecycle.hooks";
import type { Storage } from "../src/storage/storage.port";
import { STORAGE } from "../src/tokens";
import { startGateway, type TestGateway } from "./support/gateway";
import { call, expectErrorEnvelope } from "./support/http";

/**
 * In-process lifecycle hooks, on both stores (same test names): `beforeStart` refuses or shapes a start; the hooks
 * after a transition run once for the request that won it, and their failures neither undo it nor fail the request.
 */

const SIZE = 4096;
const body = { partsNumber: 1, fileName: "clip.mp4", contentLength: String(SIZE), mimeType: "video/mp4" };

describe.each(["local", "s3"] as const)("lifecycle hooks on %s storage", (storage) => {
  let gw: TestGateway;
  const seen: { hook: string; context: UploadHookContext }[] = [];
  const record = (hook: string) => (context: UploadHookContext) => {
    seen.push({ hook, context });
    if (context.upload.metadata?.hookFails === "yes") throw new Error(`${hook} broke on purpose`);
  };
  const hooks: UploadLifecycleHooks = {
    beforeStart({ body: start, requestKey, project }) {
      const metadata = start.metadata ?? {};
      if (metadata.ownerId === "banned") {
        throw new UploadRefusedError({
          code: "FORBIDDEN",
          field: "metadata.ownerId",
          message: "this owner may not upload",
        });
      }
      if (metadata.ownerId === "crash") throw new Error("the hook has a bug");
      if (metadata.ownerId === "bad-key") return { objectKey: "../outside" };
      if (metadata.place === "custom") {
        return { objectKey: `media/${project.id}/${requestKey}.mp4`, metadata: { ...metadata, placedBy: "hook" } };
      }
      return undefined;
    },
    onStarted: record("onStarted"),
    onCompleted: record("onCompleted"),
    onAborted: record("onAborted"),
  };
  const uploads = () => `/api/projects/${gw.projectId}/uploads`;
  const start = (payload: unknown = body) =>
    call(gw.app, "POST", `${uploads()}/multipart`, { body: payload, headers: gw.auth });
  const hooksOf = (requestKey: string) =>
    seen.filter((s) => s.context.upload.requestKey === requestKey).map((s) => s.hook);

  /** Starts an upload and stores its one part; returns what completing it needs. */
  async function startAndSend(payload: unknown = body) {
    const started = await start(payload);
    expect(started.status).toBe(200);
    const { requestKey, presignedUrl } = started.body.result;
    const put = await fetch(presignedUrl[0].presignedUrl, { method: "PUT", body: new Uint8Array(SIZE).fill(7) });
    expect(put.status).toBe(200);
    return { requestKey: requestKey as string, parts: [{ partNumber: 1, eTag: put.headers.get("etag")! }] };
  }
  const complete = (upload: { requestKey: string; parts: unknown }) =>
    call(gw.app, "PUT", `${uploads()}/multipart-complete`, { body: upload, headers: gw.auth });
  const abort = (requestKey: string) =>
    call(gw.app, "PUT", `${uploads()}/multipart-abort`, { body: { requestKey }, headers: gw.auth });

  beforeAll(async () => {
    gw = await startGateway({}, storage, {}, { hooks });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it("beforeStart refuses with a 4xx of the closed set, in the envelope, and nothing is made", async () => {
    const before = (await call(gw.app, "GET", `${uploads()}?limit=100`, { headers: gw.auth })).body.result.uploads
      .length;
    const refused = await start({ ...body, metadata: { ownerId: "banned" } });
    expectErrorEnvelope(refused, 403, "FORBIDDEN");
    expect(refused.body.errorDetails[0]).toMatchObject({
      field: "metadata.ownerId",
      message: "this owner may not upload",
    });
    expect(refused.body.errors).toEqual(["metadata.ownerId: this owner may not upload"]);
    const after = (await call(gw.app, "GET", `${uploads()}?limit=100`, { headers: gw.auth })).body.result.uploads
      .length;
    expect(after).toBe(before);
  });

  it("a beforeStart that throws anything else, or returns a key the gateway cannot use, answers 500", async () => {
    expectErrorEnvelope(await start({ ...body, metadata: { ownerId: "crash" } }), 500, "INTERNAL_ERROR");
    expectErrorEnvelope(await start({ ...body, metadata: { ownerId: "bad-key" } }), 500, "INTERNAL_ERROR");
  });

  it("the object key and metadata beforeStart sets are the upload's", async () => {
    const upload = await startAndSend({ ...body, metadata: { place: "custom" } });
    const status = await call(gw.app, "GET", `${uploads()}/${upload.requestKey}`, { headers: gw.auth });
    expect(status.body.result.metadata).toEqual({ place: "custom", placedBy: "hook" });
    expect((await complete(upload)).status).toBe(200);
    const store = gw.app.get<Storage>(STORAGE);
    expect(await store.objectSize(`media/${gw.projectId}/${upload.requestKey}.mp4`)).toBe(SIZE);
    expect(await store.objectSize(`projects/${gw.projectId}/files/${upload.requestKey}`)).toBeUndefined();
    const [completed] = seen.filter(
      (s) => s.hook === "onCompleted" && s.context.upload.requestKey === upload.requestKey,
    );
    expect(completed!.context.event).toMatchObject({
      id: expect.stringMatching(/^evt_[0-9a-f]{32}$/),
      type: "upload.completed",
      data: {
        projectId: gw.projectId,
        requestKey: upload.requestKey,
        fileName: "clip.mp4",
        mimeType: "video/mp4",
        size: SIZE,
        metadata: { place: "custom", placedBy: "hook" },
      },
    });
    expect(completed!.context.upload).toMatchObject({
      state: "completed",
      objectKey: `media/${gw.projectId}/${upload.requestKey}.mp4`,
    });
  });

  it("onStarted and onCompleted run once each, not again for a retried complete", async () => {
    const upload = await startAndSend();
    expect(hooksOf(upload.requestKey)).toEqual(["onStarted"]);
    const replies = await Promise.all([complete(upload), complete(upload), complete(upload)]);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    expect((await complete(upload)).status).toBe(200);
    expect(hooksOf(upload.requestKey)).toEqual(["onStarted", "onCompleted"]);
  });

  it("of a complete and an abort at once, only the winner's hook runs; a retried abort runs none", async () => {
    for (let round = 0; round < 3; round++) {
      const upload = await startAndSend();
      const [completed, aborted] = await Promise.all([complete(upload), abort(upload.requestKey)]);
      const winners = [completed.status, aborted.status].filter((s) => s === 200).length;
      expect(winners).toBe(1);
      expect(hooksOf(upload.requestKey)).toEqual(["onStarted", completed.status === 200 ? "onCompleted" : "onAborted"]);
    }
    const upload = await startAndSend();
    expect((await abort(upload.requestKey)).status).toBe(200);
    expect((await abort(upload.requestKey)).status).toBe(200);
    expect(hooksOf(upload.requestKey)).toEqual(["onStarted", "onAborted"]);
  });

  it("a hook that fails after a transition neither undoes it nor fails the request", async () => {
    const failing = { ...body, metadata: { hookFails: "yes" } };
    const upload = await startAndSend(failing); // onStarted throws: the start still answers its plan
    const completed = await complete(upload);
    expect(completed.status).toBe(200);
    expect(completed.body.result).toBe(true);
    const status = await call(gw.app, "GET", `${uploads()}/${upload.requestKey}`, { headers: gw.auth });
    expect(status.body.result.state).toBe("completed");
    expect(hooksOf(upload.requestKey)).toEqual(["onStarted", "onCompleted"]);
    const other = await start(failing);
    expect(other.status).toBe(200);
    const aborted = await abort(other.body.result.requestKey);
    expect(aborted.status).toBe(200);
    expect(hooksOf(other.body.result.requestKey)).toEqual(["onStarted", "onAborted"]);
  });

  it("a single-PUT upload (POST /url) reports its start and its completion once", async () => {
    const started = await call(gw.app, "POST", `${uploads()}/url`, {
      body: { fileName: "note.txt", mimeType: "text/plain", contentLength: 5, metadata: { kind: "single" } },
      headers: gw.auth,
    });
    expect(started.status).toBe(200);
    const { requestKey, url, headers } = started.body.result;
    expect((await fetch(url, { method: "PUT", body: "hello", headers })).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      expect((await call(gw.app, "POST", `${uploads()}/success/${requestKey}`, { headers: gw.auth })).status).toBe(200);
    }
    expect(hooksOf(requestKey)).toEqual(["onStarted", "onCompleted"]);
    expect(seen.at(-1)!.context.event.data).toMatchObject({ size: 5, metadata: { kind: "single" } });
  });
});
