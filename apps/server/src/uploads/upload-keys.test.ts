import { describe, expect, it } from "vitest";
import {
  contentDisposition,
  hashReservationKey,
  isRequestKey,
  newRequestKey,
  objectKey,
  objectKeyProblem,
  quarantineObjectKey,
  recordKey,
  requestKeyOfRecord,
} from "./upload-keys";

describe("request keys", () => {
  it("carry 128 random bits and are unique", () => {
    const keys = new Set(Array.from({ length: 1000 }, () => newRequestKey(1_700_000_000_000)));
    expect(keys.size).toBe(1000);
    for (const key of keys) expect(isRequestKey(key)).toBe(true);
    expect([...keys][0]).toHaveLength(13 + 22);
  });

  it("sort newest first in a plain ascending listing", () => {
    const older = newRequestKey(1_700_000_000_000);
    const newer = newRequestKey(1_700_000_000_001);
    expect([older, newer].sort()).toEqual([newer, older]);
  });

  it("reject anything else, so no client text reaches a storage key", () => {
    for (const bad of [
      "",
      "../../x",
      "a".repeat(35),
      `${"1".repeat(13)}${"a".repeat(21)}/`,
      `${"1".repeat(13)}%2e%2e/aaaaaaaaaaaaaaa`,
    ]) {
      expect(isRequestKey(bad)).toBe(false);
    }
  });
});

describe("storage keys", () => {
  const key = newRequestKey();

  it("keep every object of a project under its prefix", () => {
    expect(objectKey("films", key)).toBe(`projects/films/files/${key}`);
    expect(recordKey("films", key)).toBe(`projects/films/uploads/${key}.json`);
    expect(hashReservationKey("films", "../../../etc/passwd")).toMatch(/^projects\/films\/hashes\/[0-9a-f]{64}$/);
  });

  it("keep quarantined objects where no upload's object can be named: no download URL is ever made for them", () => {
    const kept = quarantineObjectKey("films", key);
    expect(kept).toBe(`projects/films/quarantine/${key}/object`);
    // Download URLs are made only for an upload's objectKey, which an embedding app may name, but never there.
    expect(objectKeyProblem(kept, "films")).toBeDefined();
    expect(objectKeyProblem(`projects/films/files/${key}`, "films")).toBeUndefined();
  });

  it("read a request key back from a record key, only within the project", () => {
    expect(requestKeyOfRecord("films", recordKey("films", key))).toBe(key);
    expect(requestKeyOfRecord("music", recordKey("films", key))).toBeUndefined();
    expect(requestKeyOfRecord("films", "projects/films/uploads/junk.json")).toBeUndefined();
  });
});

describe("contentDisposition", () => {
  it("keeps the original name in UTF-8 with a safe ASCII fallback", () => {
    expect(contentDisposition('My "clip" – été.mp4')).toBe(
      `attachment; filename="My _clip_ _ _t_.mp4"; filename*=UTF-8''My%20%22clip%22%20%E2%80%93%20%C3%A9t%C3%A9.mp4`,
    );
    expect(contentDisposition("it's (1).mp4")).toBe(
      `attachment; filename="it's (1).mp4"; filename*=UTF-8''it%27s%20%281%29.mp4`,
    );
  });
});
