import { describe, expect, it } from "vitest";
import { isPrivateAddress, resolveWebhookTarget } from "./webhook-target";

describe("webhook targets", () => {
  it.each(["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "::1", "::", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "::ffff:7f00:1", "not-an-ip"])(
    "%s is private",
    (address) => expect(isPrivateAddress(address)).toBe(true),
  );

  it.each(["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])("%s is public", (address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });

  it("refuses a host that resolves to loopback, unless private networks are allowed", async () => {
    await expect(resolveWebhookTarget(new URL("http://localhost:9/x"), false)).rejects.toThrow(/private or loopback/);
    await expect(resolveWebhookTarget(new URL("http://[::1]:9/x"), false)).rejects.toThrow(/private or loopback/);
    await expect(resolveWebhookTarget(new URL("http://127.0.0.1:9/x"), true)).resolves.toEqual({ address: "127.0.0.1", family: 4 });
  });
});
