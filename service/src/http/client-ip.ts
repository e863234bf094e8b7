/**
 * The client's IP address as rate limits and click records should see it. X-Forwarded-For is
 * trusted only when the TCP peer is a configured proxy (Caddy), and then only its right-most
 * entries that are not proxies themselves: everything left of that is whatever the client wrote.
 * A hop a proxy wrote in another shape (`ip:port`, `[v6]:port`, quoted) is normalised; one that
 * is no address at all makes the client UNKNOWN_CLIENT, never the proxy's own address: the
 * proxies are loopback by default, which rate limits exempt.
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
 * The client behind a trusted proxy whose X-Forwarded-For names no address. Not exempt and not a
 * proxy, so such clients share one rate-limit bucket; clicks record it as their IP.
 */
export const UNKNOWN_CLIENT = "0.0.0.0";

/**
 * One X-Forwarded-For hop as a bare address, or undefined. Load balancers write `1.2.3.4:5678`,
 * `[2001:db8::1]:443`, `[2001:db8::1]` or a quoted form (RFC 7239 style); IPv4-mapped IPv6 and
 * a zone id are reduced too, so one client is one key.
 */
export function normaliseHop(hop: string): string | undefined {
  let h = hop.trim();
  if (h.length > 2 && h.startsWith('"') && h.endsWith('"')) h = h.slice(1, -1).trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(h);
  if (bracketed) h = bracketed[1]!;
  else if (/^[\d.]+:\d{1,5}$/.test(h)) h = h.slice(0, h.indexOf(":"));
  const zone = h.indexOf("%");
  if (zone > 0 && h.includes(":")) h = h.slice(0, zone);
  if (/^::ffff:[\d.]+$/i.test(h)) h = h.slice(7);
  return isIP(h) === 0 ? undefined : h.toLowerCase();
}

/** Addresses remembered per memo; one more distinct address than this starts the memo over. */
export const PEER_MEMO_LIMIT = 1024;

// The longest IP address text ("::ffff:255.255.255.255" is 22; full IPv6 with an IPv4 tail is 45).
const LONGEST_MEMO_KEY = 45;

type AddressKind = "proxy" | "client" | "invalid";

/**
 * What each address is, remembered: behind Caddy every request comes from the same few peers and
 * often the same clients, and the BlockList check was 5 % of a redirect's CPU. Bounded, because
 * without a proxy every client is a peer of its own.
 */
function addressKinds(trusted: BlockList): (ip: string) => AddressKind {
  const known = new Map<string, AddressKind>();
  const classify = (ip: string): AddressKind => (isIP(ip) === 0 ? "invalid" : isTrusted(trusted, ip) ? "proxy" : "client");
  return (ip) => {
    // A client writes X-Forwarded-For: its long strings are classified but never held.
    if (ip.length > LONGEST_MEMO_KEY) return classify(ip);
    let kind = known.get(ip);
    if (kind === undefined) {
      if (known.size >= PEER_MEMO_LIMIT) known.clear();
      known.set(ip, (kind = classify(ip)));
    }
    return kind;
  };
}

/**
 * `peer` is the TCP peer (`server.requestIP(request)?.address`); undefined for requests handled
 * in process (tests), which are treated as coming from loopback.
 */
export function clientIpResolver(trusted: BlockList): ClientIpResolver {
  // Two memos: the churn of many clients' addresses must not evict the few proxies'.
  const peerKind = addressKinds(trusted);
  const hopKind = addressKinds(trusted);
  return (request, peer) => {
    const direct = peer ?? "127.0.0.1";
    if (peerKind(direct) !== "proxy") return direct;
    const forwarded = request.headers.get("x-forwarded-for");
    if (!forwarded) return direct;
    const hops = forwarded.split(",").map((h) => h.trim()).filter(Boolean);
    let leftmost: string | undefined;
    for (let i = hops.length - 1; i >= 0; i--) {
      const raw = hops[i]!;
      // isIP accepts a zone id with anything after it; such a hop is normalised like garbage.
      const hop = hopKind(raw) === "invalid" || raw.includes("%") ? normaliseHop(raw) : raw;
      // Garbage where the client should be: an unknown client, never the (exempt) proxy itself.
      if (hop === undefined) return UNKNOWN_CLIENT;
      if (hopKind(hop) === "client") return hop;
      leftmost = hop;
    }
    // Every hop is a proxy: the request began at the left-most one (a local caller via Caddy).
    return leftmost ?? UNKNOWN_CLIENT;
  };
}
