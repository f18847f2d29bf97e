import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../storage/memory.storage";
import { StorageError, type Storage } from "../storage/storage.port";
import { RequestCounter } from "../../test/support/counting-storage";
import { body, refusal, workflow } from "../../test/support/workflow";
import { OpenUploads } from "./open-uploads";
import { idempotencyEntryKey, openSlotKey, openSlotPrefix } from "./upload-keys";

/** Two replicas: two workflows (services) on one store, whose requests `counter` counts. */
function replicas(options: Parameters<typeof workflow>[0] = {}) {
  const memory = new MemoryStorage();
  const counter = new RequestCounter();
  const replica = () => workflow({ ...options, memory, wrap: (m) => counter.wrap(m) });
  return [replica(), replica(), counter] as const;
}

/** Multipart uploads made and not aborted. */
function uploadsLeft(counter: RequestCounter): number {
  const { createMultipartUpload = 0, abortMultipartUpload = 0 } = counter.byMethod();
  return createMultipartUpload - abortMultipartUpload;
}

const placesTaken = async (storage: Storage) => (await storage.listKeys(openSlotPrefix("demo"), { limit: 100 })).keys;

describe("StartUpload races across replicas", () => {
  it("two starts for the last place at once, one on each replica: exactly one wins (× 20)", async () => {
    for (let round = 0; round < 20; round++) {
      const [a, b, counter] = replicas({ project: { maxOpenUploads: 3 } });
      await a.start.multipart(a.project, body());
      await b.start.multipart(b.project, body());
      const results = await Promise.allSettled([
        a.start.multipart(a.project, body()),
        b.start.multipart(b.project, body()),
      ]);
      const won = results.filter((r) => r.status === "fulfilled");
      expect(won).toHaveLength(1);
      const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      expect(lost.reason).toMatchObject({ problems: [{ code: "TOO_MANY_OPEN_UPLOADS" }] });
      expect(await placesTaken(a.storage)).toHaveLength(3);
      // The loser made a multipart upload alongside its place, and aborted it: only the 3 winners' remain.
      expect(uploadsLeft(counter)).toBe(3);
    }
  });

  it("a start retried on the other replica after a lost reply, with the same Idempotency-Key: the same upload", async () => {
    const [a, b, counter] = replicas({ project: { maxOpenUploads: 2 } });
    const first = await a.start.multipart(a.project, body(), "key-1");
    const retried = await b.start.multipart(b.project, body(), "key-1");
    expect(retried.requestKey).toBe(first.requestKey);
    expect(await placesTaken(a.storage)).toHaveLength(1);
    expect(a.events.map((e) => e.type)).toEqual(["upload.started"]);
    expect(b.events).toEqual([]);
    // Both at once, on both replicas, with a fresh key, for the last place: one upload, and every start that answers
    // names it. (The one holding the key may lose the place to the other, which then makes the upload under the key
    // once the first gives it back: the first then answers 429, the other the upload.)
    const both = await Promise.allSettled([
      a.start.multipart(a.project, body(), "key-2"),
      b.start.multipart(b.project, body(), "key-2"),
    ]);
    const answered = both.flatMap((r) => (r.status === "fulfilled" ? [r.value.requestKey] : []));
    expect(answered.length).toBeGreaterThanOrEqual(1);
    expect(new Set(answered).size).toBe(1);
    for (const r of both) {
      if (r.status === "rejected") expect(r.reason).toMatchObject({ problems: [{ code: "TOO_MANY_OPEN_UPLOADS" }] });
    }
    expect(await placesTaken(a.storage)).toHaveLength(2);
    expect(uploadsLeft(counter)).toBe(2);
  });

  it("a process dying between its two steps: its place is counted once, and taken over a minute later", async () => {
    let clock = Date.now();
    const memory = new MemoryStorage();
    let dead = false;
    // The replica that dies: its record write fails, and so does every request after it (nothing cleans up).
    const dying = workflow({
      project: { maxOpenUploads: 1 },
      memory,
      now: () => clock,
      wrap: (store) =>
        new Proxy(store, {
          get(target, name, receiver) {
            const value: unknown = Reflect.get(target, name, receiver);
            if (typeof value !== "function") return value;
            return (...args: unknown[]) => {
              if (name === "writeJson" && String(args[0]).includes("/uploads/")) dead = true;
              if (dead) return Promise.reject(new StorageError("unavailable", "the process died"));
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        }),
    });
    const other = workflow({ project: { maxOpenUploads: 1 }, memory, now: () => clock });
    await expect(dying.start.multipart(dying.project, body(), "key-1")).rejects.toMatchObject({
      reason: "unavailable",
    });
    expect(await placesTaken(memory)).toHaveLength(1); // leaked, counted once
    expect(await memory.readJson(idempotencyEntryKey("demo", "key-1"))).toMatchObject({
      requestKey: expect.any(String),
    });
    // Within the minute a start still in flight could be writing its record: the place stays its.
    expect((await refusal(other.start.multipart(other.project, body()))).status).toBe(429);
    clock += 61_000;
    const next = await other.start.multipart(other.project, body());
    const places = await placesTaken(memory);
    expect(places).toHaveLength(1);
    expect(await memory.readJson(places[0]!)).toMatchObject({ requestKey: next.requestKey });
    expect((await refusal(other.start.multipart(other.project, body()))).status).toBe(429);
  });

  it("the expiry frees a leaked place safely: of two freeing it and a start taking it over at once, no place is lost", async () => {
    let clock = Date.now();
    const w = workflow({ project: { maxOpenUploads: 1 }, now: () => clock });
    const replica = new OpenUploads(
      w.storage,
      (projectId, key) => w.records.read(projectId, key),
      () => clock,
    );
    // Leaked by a start that died before its record.
    await w.storage.writeJson(openSlotKey("demo", 0), {
      requestKey: "x".repeat(35),
      createdAt: new Date(clock).toISOString(),
    });
    expect(await replica.releaseIfLeaked("demo", openSlotKey("demo", 0))).toBe(false); // a start may still be writing it
    clock += 61_000;
    for (let round = 0; round < 10; round++) {
      const [freedA, freedB, started] = await Promise.allSettled([
        replica.releaseIfLeaked("demo", openSlotKey("demo", 0)),
        replica.releaseIfLeaked("demo", openSlotKey("demo", 0)),
        w.start.multipart(w.project, body()),
      ]);
      const freed = [freedA, freedB].filter((r) => r.status === "fulfilled" && r.value).length;
      expect(freed).toBeLessThanOrEqual(1);
      const places = await placesTaken(w.storage);
      if (started.status === "fulfilled") {
        // The start holds the place, whoever freed or took over what: its marker was never deleted under it.
        expect(places).toHaveLength(1);
        expect(await w.storage.readJson(places[0]!)).toMatchObject({ requestKey: started.value.requestKey });
        await w.machine.abort(w.project, started.value.requestKey);
      } else {
        expect(started.reason).toMatchObject({ problems: [{ code: "TOO_MANY_OPEN_UPLOADS" }] });
      }
      // Leak it again for the next round.
      await w.storage.writeJson(openSlotKey("demo", 0), {
        requestKey: "x".repeat(35),
        createdAt: new Date(clock - 61_000).toISOString(),
      });
    }
  });
});
