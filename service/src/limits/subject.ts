/**
 * Who a client address is to the limiter: an IPv4 address is one client; an IPv6 address is
 * grouped by its prefix (RATE_LIMIT_IPV6_PREFIX, /64 by default), because one subscriber or one
 * server usually holds a whole /64 and could rotate through it to escape budgets and bans.
 * IPv4-mapped IPv6 (`::ffff:a.b.c.d`, either spelling) is the IPv4 client. Only the limiter
 * groups: clicks still record the full address.
 */
import { isIP } from "node:net";

/** 8 groups of 16 bits, or undefined when `ip` is not IPv6 text. */
function groupsOf(ip: string): number[] | undefined {
  if (isIP(ip) !== 6) return undefined;
  let text = ip;
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    const octets = text.slice(lastColon + 1).split(".").map(Number);
    tail.push((octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!);
    // Keep a "::" that ends the text; drop a single ":" before the dotted tail.
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith("::")) text = text.slice(0, -1);
  }
  const [head, rest] = text.split("::") as [string, string | undefined];
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const missing = 8 - tail.length - left.length - right.length;
  const groups = rest === undefined ? [...left, ...tail] : [...left, ...new Array<number>(missing).fill(0), ...right, ...tail];
  return groups.length === 8 ? groups : undefined;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run of two or more zero groups as `::`. */
function format(groups: readonly number[]): string {
  let bestStart = -1, bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) { bestStart = i; bestLength = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/**
 * The limiter's subject for a client address: IPv4 as it is; IPv6 as `<network>/<prefix>` (the
 * address itself at /128). Anything that is not an address is returned unchanged.
 */
export function clientSubject(ip: string, ipv6Prefix: number): string {
  // IPv4 (the common case) costs one scan for a colon.
  if (!ip.includes(":")) return ip;
  const groups = groupsOf(ip);
  if (!groups) return ip;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  }
  if (ipv6Prefix >= 128) return format(groups);
  const masked = groups.map((g, i) => {
    const bits = Math.min(16, Math.max(0, ipv6Prefix - 16 * i));
    return bits === 0 ? 0 : g & ((0xffff << (16 - bits)) & 0xffff);
  });
  return `${format(masked)}/${ipv6Prefix}`;
}
