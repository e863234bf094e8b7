import { describe, expect, test } from "bun:test";
import { clientIpResolver, normaliseHop, parseTrustedProxies, PEER_MEMO_LIMIT, UNKNOWN_CLIENT } from "./client-ip.ts";

const resolve = clientIpResolver(parseTrustedProxies("127.0.0.1,::1,10.0.0.0/8"));
const req = (xff?: string) => new Request("http://localhost/x", { headers: xff ? { "x-forwarded-for": xff } : {} });

describe("client IP", () => {
  test("a direct client is its TCP peer, whatever X-Forwarded-For says", () => {
    expect(resolve(req("1.2.3.4"), "203.0.113.9")).toBe("203.0.113.9");
  });
  test("behind a trusted proxy, the right-most untrusted hop", () => {
    expect(resolve(req("6.6.6.6, 198.51.100.7, 10.1.2.3"), "127.0.0.1")).toBe("198.51.100.7");
    expect(resolve(req("198.51.100.7"), "::ffff:127.0.0.1")).toBe("198.51.100.7");
  });
  test("a trusted proxy without X-Forwarded-For is the peer itself (Caddy's own health checks)", () => {
    expect(resolve(req(), "127.0.0.1")).toBe("127.0.0.1");
  });
  // Regression: a hop that was not a bare IP made the client the TCP peer, Caddy's loopback
  // address, which rate limits exempt and clicks recorded as the client's IP.
  test("hops a load balancer writes with a port, brackets or quotes are the client's address", () => {
    expect(resolve(req("198.51.100.7:51234"), "127.0.0.1")).toBe("198.51.100.7");
    expect(resolve(req("[2001:db8::7]:443"), "127.0.0.1")).toBe("2001:db8::7");
    expect(resolve(req("[2001:DB8::7]"), "127.0.0.1")).toBe("2001:db8::7");
    expect(resolve(req('"198.51.100.7:80", 10.0.0.5:9000'), "127.0.0.1")).toBe("198.51.100.7");
    expect(resolve(req("fe80::1%eth0"), "127.0.0.1")).toBe("fe80::1");
    expect(resolve(req("::ffff:198.51.100.7:80"), "127.0.0.1")).toBe(UNKNOWN_CLIENT);
  });
  test("garbage where the client should be is an unknown client, never the trusted peer", () => {
    for (const xff of ["1.2.3.4, not-an-ip", "unknown", "_hidden, 10.0.0.1", "[1.2.3.4", "1.2.3.4:", ", ,"]) {
      expect({ xff, ip: resolve(req(xff), "127.0.0.1") }).toEqual({ xff, ip: UNKNOWN_CLIENT });
      expect({ xff, ip: resolve(req(xff), "::1") }).toEqual({ xff, ip: UNKNOWN_CLIENT });
    }
  });
  test("a chain of proxies only started at the left-most one", () => {
    expect(resolve(req("127.0.0.1"), "127.0.0.1")).toBe("127.0.0.1");
    expect(resolve(req("10.0.0.9, 10.0.0.5:80"), "127.0.0.1")).toBe("10.0.0.9");
  });
  test("normaliseHop", () => {
    expect(normaliseHop(" 203.0.113.1 ")).toBe("203.0.113.1");
    expect(normaliseHop("[::ffff:203.0.113.1]:8")).toBe("203.0.113.1");
    expect(normaliseHop("[fe80::1%25eth0]")).toBe("fe80::1");
    expect(normaliseHop("example.com:80")).toBeUndefined();
    expect(normaliseHop("")).toBeUndefined();
  });
  test("an in-process request (no peer) counts as loopback", () => {
    expect(resolve(req("198.51.100.7"), undefined)).toBe("198.51.100.7");
  });
  test("remembering peers does not change an answer, past the memo's bound and back", () => {
    // Trusted (10.x) and untrusted (203.0.x) peers interleaved, three times the bound, twice over:
    // the second pass meets peers the memo has forgotten and peers it still holds.
    const peers = Array.from({ length: PEER_MEMO_LIMIT * 3 }, (_, i) => i % 2 ? `10.0.${i >> 8}.${i & 255}` : `203.0.${i >> 8}.${i & 255}`);
    const ask = () => peers.map((peer) => resolve(req("198.51.100.7"), peer));
    const expected = peers.map((peer) => (peer.startsWith("10.") ? "198.51.100.7" : peer));
    expect(ask()).toEqual(expected);
    expect(ask()).toEqual(expected);
    expect(resolve(req("198.51.100.7"), "203.0.113.9")).toBe("203.0.113.9");
    expect(resolve(req("198.51.100.7"), "::ffff:10.9.9.9")).toBe("198.51.100.7");
  });
  test("remembering X-Forwarded-For hops does not change an answer either", () => {
    // Many distinct clients behind a trusted peer and a trusted inner proxy, past the bound, twice.
    const clients = Array.from({ length: PEER_MEMO_LIMIT * 3 }, (_, i) => `198.51.${i >> 8}.${i & 255}`);
    const ask = () => clients.map((client, i) => resolve(req(`6.6.6.6, ${client}, 10.0.0.${i & 255}`), "127.0.0.1"));
    expect(ask()).toEqual(clients);
    expect(ask()).toEqual(clients);
    for (const garbage of ["not-an-ip", `1.2.3.4${" ".repeat(60)}x`, "9".repeat(100)]) {
      expect(resolve(req(`198.51.100.7, ${garbage}`), "127.0.0.1")).toBe(UNKNOWN_CLIENT);
      expect(resolve(req(`198.51.100.7, ${garbage}`), "127.0.0.1")).toBe(UNKNOWN_CLIENT);
    }
  });
  test("a bad TRUSTED_PROXIES entry is named", () => {
    expect(() => parseTrustedProxies("127.0.0.1, nope")).toThrow('"nope" is not an IP address or CIDR range');
  });
});
