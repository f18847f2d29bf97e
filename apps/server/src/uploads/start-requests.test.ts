import { describe, expect, it } from "vitest";
import { RequestCounter } from "../../test/support/counting-storage";
import { body, token, workflow } from "../../test/support/workflow";
import { UploadRefusedError } from "./lifecycle/upload-lifecycle.hooks";

const fileHash = () => `sha256:${Math.random().toString(16).slice(2).padEnd(64, "0")}`;

/**
 * A workflow whose store counts requests, as the gateway wires it (expiries in the due index). A start tries one
 * open-upload place at random and lists the places only when it finds that one taken: with the default 1,000 places,
 * a later start here picked an earlier one's place about once in a hundred runs (a CI run met it), so the counts here
 * are of starts in a project of a billion places unless a test says otherwise. Races for places: start-races.test.ts.
 */
function counted(options: Parameters<typeof workflow>[0] = {}) {
  const counter = new RequestCounter();
  const w = workflow({
    expiries: true,
    wrap: (memory) => counter.wrap(memory),
    ...options,
    project: { maxOpenUploads: 1_000_000_000, ...options.project },
  });
  return { w, counter };
}

describe("StartUpload: store requests of a start", () => {
  it("a plain start: 3 requests, 2 in sequence (the place and CreateMultipartUpload at once, then the record)", async () => {
    const { w, counter } = counted();
    // The project's first start in this window also writes the window's expiry entry, alongside the first step.
    await w.start.multipart(w.project, body());
    expect(counter.byMethod()).toEqual({ writeJson: 3, createMultipartUpload: 1 });
    expect(counter.inSequence).toBe(2);
    expect(counter.requests.filter((r) => r.key.startsWith("projects/_due/upload-expiry/"))).toHaveLength(1);

    counter.reset();
    await w.start.multipart(w.project, body());
    expect(counter.byMethod()).toEqual({ writeJson: 2, createMultipartUpload: 1 });
    expect(counter.inSequence).toBe(2);
    expect(counter.requests.filter((r) => r.depth === 2).map((r) => r.key)).toEqual([
      expect.stringMatching(/^projects\/demo\/uploads\/.*\.json$/),
    ]);
    counter.reset();
    await w.start.singlePut(w.project, body());
    expect(counter.byMethod()).toEqual({ writeJson: 2 }); // a single PUT has no multipart upload to make
    expect(counter.inSequence).toBe(2);
  });

  it("a start refused at the cap costs a bounded number of requests, whatever the cap", async () => {
    const { w, counter } = counted({ project: { maxOpenUploads: 200 } });
    for (let i = 0; i < 200; i++) await w.start.multipart(w.project, body());
    counter.reset();
    const refused = w.start.multipart(w.project, body());
    await expect(refused).rejects.toMatchObject({ problems: [{ code: "TOO_MANY_OPEN_UPLOADS" }] });
    // The place tried, the listing, a few places' markers and records, the multipart upload made and given back.
    expect(counter.requests.length).toBeLessThanOrEqual(16);
  });

  it("with fileHash and Idempotency-Key: one more request each, still 2 in sequence", async () => {
    const { w, counter } = counted();
    await w.start.multipart(w.project, body()); // the window's expiry entry
    counter.reset();
    await w.start.multipart(w.project, body(1000, { enableDuplicateCheck: true, fileHash: fileHash() }), "key-1");
    expect(counter.byMethod()).toEqual({ writeJson: 4, createMultipartUpload: 1 });
    expect(counter.inSequence).toBe(2);

    // The retry of a start whose reply was lost finds the key taken (its entry, the record it names) while its place
    // and multipart upload are made; it gives those back, and extends the record's URL expiry.
    const first = await w.start.multipart(w.project, body(1000), "key-2");
    // A retry comes later than its start: its URLs expire later, so it extends the record's expiry. In the same
    // millisecond (an in-memory start on an idle machine can take less: a CI run met it) they expire together.
    await new Promise((resolve) => setTimeout(resolve, 2));
    counter.reset();
    const again = await w.start.multipart(w.project, body(1000), "key-2");
    expect(again.requestKey).toBe(first.requestKey);
    // The key (refused), the place, the new expiry; and its window's entry when the few ms since crossed into another.
    const { writeJson, ...others } = counter.byMethod();
    expect([3, 4]).toContain(writeJson);
    expect(others).toEqual({
      readDocument: 3, // the key's entry, the record it names, the record again to extend its expiry
      createMultipartUpload: 1,
      abortMultipartUpload: 1,
      readJson: 1, // the place, before giving it back
      deleteObject: 1,
    });
    expect(counter.inSequence).toBeLessThanOrEqual(6); // the key's 3, then giving back ∥ extending the expiry (3)
  });

  it("the worst case: a token's count (read, then swap) and a beforeStart hook (the key first) make it 4 in sequence", async () => {
    const { w, counter } = counted({ hooks: { beforeStart: () => undefined } });
    await w.start.multipart(w.project, body());
    counter.reset();
    const withEverything = body(1000, { enableDuplicateCheck: true, fileHash: fileHash() });
    await w.start.multipart(w.project, withEverything, "key-1", token({ maxUploads: 5 }));
    // key (hook: before the rest) → token read, place, hash, CreateMultipartUpload → token swap → record
    expect(counter.byMethod()).toEqual({ writeJson: 5, readDocument: 1, createMultipartUpload: 1 });
    expect(counter.inSequence).toBe(4);
  });

  it("a start its hook refuses makes no request; one refused at the cap undoes what it made", async () => {
    const refusing = counted({
      hooks: {
        beforeStart: () => {
          throw new UploadRefusedError({ code: "FORBIDDEN", message: "no" });
        },
      },
    });
    await expect(refusing.w.start.multipart(refusing.w.project, body())).rejects.toThrow();
    expect(refusing.counter.requests).toEqual([]);

    const { w, counter } = counted({ project: { maxOpenUploads: 1 } });
    await w.start.multipart(w.project, body());
    counter.reset();
    await expect(w.start.multipart(w.project, body())).rejects.toMatchObject({ status: 429 });
    // The place tried, the places listed, the leaked place looked for; the multipart upload made and aborted.
    expect(counter.byMethod()).toMatchObject({ createMultipartUpload: 1, abortMultipartUpload: 1, listKeys: 1 });
    expect((await w.storage.listKeys("projects/demo/open/", { limit: 10 })).keys).toHaveLength(1);
  });
});
