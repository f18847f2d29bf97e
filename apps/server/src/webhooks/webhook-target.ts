import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

/**
 * Addresses a webhook must not reach unless the operator allows private networks: loopback, private, link-local
 * (cloud metadata at 169.254.169.254), shared, multicast and reserved ranges. A webhook URL is configured per project
 * and its host resolved at each delivery, so without this check a project's webhook could probe the gateway's own
 * network.
 */
const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  PRIVATE.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["64:ff9b::", 96],
  ["100::", 64],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const) {
  PRIVATE.addSubnet(network, prefix, "ipv6");
}

/** Whether an IP address is in a private, loopback or otherwise non-public range (IPv4-mapped IPv6 as IPv4). */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE.check(address, "ipv4");
  if (family !== 6) return true; // not an address: never a public one
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1]!, "ipv4");
  if (/^::ffff:/i.test(address)) return true; // a mapped address in hex form: refuse rather than parse it
  return PRIVATE.check(address, "ipv6");
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
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true, verbatim: true });
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
