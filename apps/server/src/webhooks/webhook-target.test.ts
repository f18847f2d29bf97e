import { describe, expect, it } from "vitest";
import { isPrivateAddress, parseIPv6, resolveWebhookTarget } from "./webhook-target";

/** Every address a webhook must not reach, in the notations an attacker could write it in. */
const PRIVATE: [string, string][] = [
  ["IPv4 loopback", "127.0.0.1"],
  ["IPv4 private", "10.1.2.3"],
  ["IPv4 private", "172.16.0.1"],
  ["IPv4 private", "192.168.1.1"],
  ["IPv4 link-local (cloud metadata)", "169.254.169.254"],
  ["IPv4 shared", "100.64.0.1"],
  ["IPv4 this network", "0.0.0.0"],
  ["IPv4 multicast", "224.0.0.1"],
  ["IPv4 6to4 relay anycast", "192.88.99.1"],
  ["loopback", "::1"],
  ["loopback, expanded", "0:0:0:0:0:0:0:1"],
  ["loopback, zero-padded", "0000:0000:0000:0000:0000:0000:0000:0001"],
  ["unspecified", "::"],
  ["unspecified, expanded", "0:0:0:0:0:0:0:0"],
  ["IPv4-mapped loopback, dotted", "::ffff:127.0.0.1"],
  ["IPv4-mapped loopback, hex", "::ffff:7f00:1"],
  ["IPv4-mapped loopback, uppercase", "::FFFF:7F00:0001"],
  ["IPv4-mapped loopback, expanded", "0:0:0:0:0:ffff:7f00:1"],
  ["IPv4-mapped loopback, expanded dotted", "0000:0000:0000:0000:0000:FFFF:127.0.0.1"],
  ["IPv4-mapped metadata", "::ffff:169.254.169.254"],
  ["IPv4-mapped private, hex", "::ffff:a01:203"],
  ["IPv4-compatible loopback", "::127.0.0.1"],
  ["IPv4-compatible public (deprecated form)", "::8.8.8.8"],
  ["IPv4-compatible, hex", "::808:808"],
  ["IPv4-translated", "::ffff:0:8.8.8.8"],
  ["NAT64 of loopback", "64:ff9b::127.0.0.1"],
  ["NAT64 of metadata, hex", "64:ff9b::a9fe:a9fe"],
  ["NAT64 of private, expanded", "0064:FF9B:0000:0000:0000:0000:0A00:0001"],
  ["NAT64 local-use", "64:ff9b:1::8.8.8.8"],
  ["NAT64 local-use, hex", "64:ff9b:1:abcd::1"],
  ["6to4 of loopback", "2002:7f00:1::"],
  ["6to4 of a public address", "2002:808:808::1"],
  ["6to4, uppercase", "2002:C0A8:0101::1"],
  ["Teredo", "2001:0:4136:e378:8000:63bf:3fff:fdd2"],
  ["Teredo, compressed", "2001::1"],
  ["site-local", "fec0::1"],
  ["site-local, upper end", "feff:ffff::1"],
  ["unique local", "fd00::1"],
  ["unique local, fc", "FC12:3456::1"],
  ["link-local", "fe80::1"],
  ["link-local with a zone id", "fe80::1%eth0"],
  ["link-local with a numeric zone id", "FE80::ABCD%25"],
  ["a public address with a zone id", "2606:4700:4700::1111%eth0"],
  ["multicast", "ff02::1"],
  ["multicast, global scope", "ff0e::101"],
  ["documentation", "2001:db8::1"],
  ["documentation, expanded", "2001:0DB8:0000:0000:0000:0000:0000:0001"],
  ["documentation (3fff::/20)", "3fff:abc::1"],
  ["discard", "100::1"],
  ["not an address", "not-an-ip"],
  ["not an address: a host name", "localhost"],
  ["not an address: too many groups", "1:2:3:4:5:6:7:8:9"],
];

const PUBLIC: [string, string][] = [
  ["IPv4", "93.184.216.34"],
  ["IPv4", "8.8.8.8"],
  ["IPv6", "2606:4700:4700::1111"],
  ["IPv6, expanded uppercase", "2606:4700:4700:0000:0000:0000:0000:1111"],
  ["IPv4-mapped public", "::ffff:8.8.8.8"],
  ["IPv4-mapped public, hex", "::ffff:808:808"],
  ["NAT64 of a public address (DNS64 networks)", "64:ff9b::8.8.8.8"],
  ["NAT64 of a public address, hex", "64:ff9b::5db8:d822"],
  ["just outside Teredo", "2001:1::1"],
  ["just outside 6to4", "2003::1"],
];

describe("webhook targets", () => {
  it.each(PRIVATE)("%s: %s is refused", (_what, address) => expect(isPrivateAddress(address)).toBe(true));

  it.each(PUBLIC)("%s: %s is allowed", (_what, address) => expect(isPrivateAddress(address)).toBe(false));

  it("reads every notation of an IPv6 address as one value", () => {
    const spellings = ["::ffff:127.0.0.1", "::ffff:7f00:1", "0:0:0:0:0:FFFF:7F00:0001", "0000::ffff:127.0.0.1"];
    expect(new Set(spellings.map(parseIPv6))).toEqual(new Set([0xffff7f000001n]));
    expect(parseIPv6("1::2::3")).toBeUndefined();
    expect(parseIPv6("::1.2.3.256")).toBeUndefined();
    expect(parseIPv6("1:2:3:4:5:6:7")).toBeUndefined();
    expect(parseIPv6("1:2:3:4:5:6:7::8")).toBeUndefined();
    expect(parseIPv6("12345::")).toBeUndefined();
  });

  it("refuses a host that resolves to loopback, unless private networks are allowed", async () => {
    await expect(resolveWebhookTarget(new URL("http://localhost:9/x"), false)).rejects.toThrow(/private or loopback/);
    await expect(resolveWebhookTarget(new URL("http://[::1]:9/x"), false)).rejects.toThrow(/private or loopback/);
    await expect(resolveWebhookTarget(new URL("http://[::ffff:127.0.0.1]:9/x"), false)).rejects.toThrow(
      /private or loopback/,
    );
    await expect(resolveWebhookTarget(new URL("http://[2002:7f00:1::]:9/x"), false)).rejects.toThrow(
      /private or loopback/,
    );
    await expect(resolveWebhookTarget(new URL("http://127.0.0.1:9/x"), true)).resolves.toEqual({
      address: "127.0.0.1",
      family: 4,
    });
  });
});
