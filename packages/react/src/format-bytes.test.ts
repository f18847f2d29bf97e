import { describe, expect, it } from "vitest";
import { formatBytes } from "./format-bytes";

const MiB = 1024 * 1024;

describe("formatBytes", () => {
  it.each([
    [0, "0 bytes"],
    [1, "1 byte"],
    [1023, "1023 bytes"],
    [1536, "1.5 KiB"],
    [24 * MiB, "24.0 MiB"],
    [500 * MiB, "500 MiB"],
    [5 * 1024 * MiB, "5.0 GiB"],
    [4 * 1024 * MiB + 5 * MiB + 3, "4.0 GiB"],
    [5 * 1024 * 1024 * MiB, "5.0 TiB"],
    [-1, "–"],
  ])("%d → %s", (bytes, text) => expect(formatBytes(bytes)).toBe(text));
});
