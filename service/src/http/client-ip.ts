/**
 * The client's IP address as rate limits and click records should see it. X-Forwarded-For is
 * trusted only when the TCP peer is a configured proxy (Caddy), and then only its right-most
 * entries that are not proxies themselves: everything left of that is whatever the client wrote.
 */
import { BlockList, isIP } from "node:net";

export type ClientIpResolver = (request: Request, peer: string | undefined) => string;

/** "127.0.0.1,::1,10.0.0.0/8" → a matcher. Throws with the bad entry named. */
export function parseTrustedProxies(list: string): BlockList {
  const block = new BlockList();
  for (const entry of list.split(",").map((e) => e.trim()).filter(Boolean)) {
    const [address, bits] = entry.split("/");
    const family = isIP(address ?? "");
    if (family === 0) throw new Error(`"${entry}" is not an IP address or CIDR range`);
    const type = family === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) block.addAddress(address!, type);
    else block.addSubnet(address!, Number(bits), type);
  }
  return block;
}

const isTrusted = (trusted: BlockList, ip: string) => {
  const plain = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
  const family = isIP(plain);
  return family !== 0 && trusted.check(plain, family === 6 ? "ipv6" : "ipv4");
};

/**
 * `peer` is the TCP peer (`server.requestIP(request)?.address`); undefined for requests handled
 * in process (tests), which are treated as coming from loopback.
 */
export function clientIpResolver(trusted: BlockList): ClientIpResolver {
  return (request, peer) => {
    const direct = peer ?? "127.0.0.1";
    if (!isTrusted(trusted, direct)) return direct;
    const forwarded = request.headers.get("x-forwarded-for");
    if (!forwarded) return direct;
    const hops = forwarded.split(",").map((h) => h.trim()).filter(Boolean);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (isIP(hop) === 0) return direct; // garbage in the chain: do not guess
      if (!isTrusted(trusted, hop)) return hop;
    }
    return hops[0] ?? direct;
  };
}
