import { describe, expect, it } from "vitest";
import { hostName } from "./dev-session.controller";

describe("hostName", () => {
  it.each([
    ["127.0.0.1:3000", "127.0.0.1"],
    ["localhost", "localhost"],
    ["LOCALHOST:80", "localhost"],
    ["[::1]:3000", "::1"],
    ["[::1]", "::1"],
    ["evil.example:3000", "evil.example"],
    [undefined, ""],
  ])("%s → %s", (host, name) => {
    expect(hostName(host)).toBe(name);
  });
});
