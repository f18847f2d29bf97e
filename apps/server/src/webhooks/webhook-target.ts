import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

/**
 * Addresses a webhook must not reach unless the operator allows private networks: loopback, private, link-local
 * (cloud metadata at 169.254.169.254), shared, multicast and reserved ranges. A webhook URL is configured per project
 * and its host resolved at each delivery, so without this check a project's webhook could probe the gateway's own
 * network.
 */
const PRIVATE_IPV4 = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  PRIVATE_IPV4.addSubnet(network, prefix, "ipv4");
}

/**
 * IPv6 ranges refused whole: not public unicast, or a transition form whose IPv4 end cannot be told (or is deprecated,
 * so no webhook receiver needs it): a 6to4 or Teredo address reaches an IPv4 host through a relay, and could reach a
 * private one.
 */
const PRIVATE_IPV6: readonly (readonly [string, number])[] = [
  ["::", 96], // unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d
  ["::ffff:0:0:0", 96], // IPv4-translated (SIIT)
  ["64:ff9b:1::", 48], // NAT64 local-use: where the IPv4 address sits depends on the local prefix length
  ["100::", 64], // discard
  ["2001::", 32], // Teredo
  ["2001:db8::", 32], // documentation
  ["2002::", 16], // 6to4
  ["3fff::", 20], // documentation
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated, still routed inside some sites)
  ["ff00::", 8], // multicast
];

/** IPv6 ranges that carry an IPv4 address in their last 32 bits: checked as that IPv4 address. */
const EMBEDDING_IPV4: readonly (readonly [string, number])[] = [
  ["::ffff:0:0", 96], // IPv4-mapped
  ["64:ff9b::", 96], // NAT64 well-known prefix (DNS64 networks answer public IPv4 hosts in it)
];

/** Whether an IP address is in a private, loopback or otherwise non-public range; never true of a non-address. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE_IPV4.check(address, "ipv4");
  if (family !== 6) return true;
  // Undefined with a zone id (`fe80::1%eth0`) too: it scopes the address to a link, never a public target.
  const value = parseIPv6(address);
  if (value === undefined) return true;
  if (EMBEDDING_IPV4.some(([network, prefix]) => inSubnet(value, network, prefix))) {
    return PRIVATE_IPV4.check(ipv4Of(value), "ipv4");
  }
  return PRIVATE_IPV6.some(([network, prefix]) => inSubnet(value, network, prefix));
}

function inSubnet(value: bigint, network: string, prefix: number): boolean {
  const shift = BigInt(128 - prefix);
  return value >> shift === parseIPv6(network)! >> shift;
}

function ipv4Of(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join(".");
}

/**
 * The 128-bit value of an IPv6 address in any notation (compressed `::`, full, uppercase, a trailing dotted quad);
 * undefined when it is not one. Parsed here rather than compared as text, so every spelling of an address is one value.
 */
export function parseIPv6(address: string): bigint | undefined {
  const halves = address.toLowerCase().split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (text: string): number[] | undefined => {
    if (text === "") return [];
    const groups: number[] = [];
    const pieces = text.split(":");
    for (const [index, piece] of pieces.entries()) {
      const dotted = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(piece);
      if (dotted && index === pieces.length - 1) {
        const bytes = dotted.slice(1).map(Number);
        if (bytes.some((byte) => byte > 255)) return undefined;
        groups.push((bytes[0]! << 8) | bytes[1]!, (bytes[2]! << 8) | bytes[3]!);
      } else if (/^[0-9a-f]{1,4}$/.test(piece)) {
        groups.push(parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return groups;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return groups.reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}

export class WebhookTargetError extends Error {
  override name = "WebhookTargetError";
}

/**
 * Resolves a webhook URL's host and checks every address it has (a name with one private address among public ones
 * is refused: the connection could pick it). Returns the address to connect to, so that the check and the connection
 * use one resolution (a second lookup could answer otherwise: DNS rebinding).
 */
export async function resolveWebhookTarget(
  url: URL,
  allowPrivateNetworks: boolean,
): Promise<{ address: string; family: 4 | 6 }> {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  let addresses: { address: string; family: number }[];
  try {
    addresses = isIP(host)
      ? [{ address: host, family: isIP(host) }]
      : await lookup(host, { all: true, verbatim: true });
  } catch (error) {
    throw new WebhookTargetError(`cannot resolve ${host}: ${(error as Error).message}`);
  }
  if (addresses.length === 0) throw new WebhookTargetError(`${host} has no address`);
  if (!allowPrivateNetworks) {
    const refused = addresses.filter((a) => isPrivateAddress(a.address));
    if (refused.length > 0) {
      throw new WebhookTargetError(
        `${host} resolves to a private or loopback address (${refused.map((a) => a.address).join(", ")}); set WEBHOOK_ALLOW_PRIVATE_NETWORKS=true to allow it`,
      );
    }
  }
  const first = addresses[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
