import { describe, expect, it } from "vitest";
import { PendingUploads, type KeyValueStore, type PendingUpload } from "./pending-uploads";

function memoryStore(): KeyValueStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
}

const movie: PendingUpload = {
  requestKey: "k1",
  projectId: "demo",
  name: "movie.mp4",
  size: 25_165_824,
  lastModified: 1_700_000_000_000,
  partsTotal: 5,
  startedAt: "2026-11-25T12:00:00.000Z",
};

describe("PendingUploads", () => {
  it("keeps uploads per project and finds one by the file's name, size and date", () => {
    const pending = new PendingUploads(memoryStore());
    pending.save(movie);
    pending.save({ ...movie, requestKey: "k2", projectId: "other" });
    expect(pending.list("demo").map((p) => p.requestKey)).toEqual(["k1"]);
    expect(
      pending.find("demo", { name: "movie.mp4", size: 25_165_824, lastModified: 1_700_000_000_000 })?.requestKey,
    ).toBe("k1");
    expect(pending.find("demo", { name: "movie.mp4", size: 25_165_824, lastModified: 1 })).toBeUndefined();
    expect(pending.find("demo", { name: "movie.mp4", size: 1, lastModified: 1_700_000_000_000 })).toBeUndefined();
  });

  it.each([4 * 1024 ** 3, 4 * 1024 ** 3 + 1, 5 * 1024 ** 3 + 3, 5 * 1024 ** 4])(
    "remembers a file of %i bytes exactly across a reload (sizes past 4 GiB, up to 5 TiB)",
    (size) => {
      const store = memoryStore();
      new PendingUploads(store).save({ ...movie, size });
      const reloaded = new PendingUploads(store);
      expect(reloaded.find("demo", { name: movie.name, size, lastModified: movie.lastModified })?.size).toBe(size);
      expect(
        reloaded.find("demo", { name: movie.name, size: size % 2 ** 32, lastModified: movie.lastModified }),
      ).toBeUndefined();
    },
  );

  it("replaces an entry saved again and forgets removed ones", () => {
    const pending = new PendingUploads(memoryStore());
    pending.save(movie);
    pending.save({ ...movie, partsTotal: 6 });
    expect(pending.list("demo")).toEqual([{ ...movie, partsTotal: 6 }]);
    pending.remove("k1");
    expect(pending.list("demo")).toEqual([]);
  });

  it("survives unreadable or foreign data and a full storage", () => {
    const store = memoryStore();
    store.data.set("upload-gateway:pending-uploads", "{not json");
    expect(new PendingUploads(store).list("demo")).toEqual([]);
    store.data.set("upload-gateway:pending-uploads", JSON.stringify([{ requestKey: 1 }, movie]));
    expect(new PendingUploads(store).list("demo")).toEqual([movie]);
    const full: KeyValueStore = {
      getItem: () => null,
      setItem: () => {
        throw new DOMException("quota", "QuotaExceededError");
      },
    };
    expect(() => new PendingUploads(full).save(movie)).not.toThrow();
  });
});
