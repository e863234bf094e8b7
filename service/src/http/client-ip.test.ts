import { describe, expect, test } from "bun:test";
import { clientIpResolver, parseTrustedProxies, PEER_MEMO_LIMIT } from "./client-ip.ts";

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
  test("a trusted proxy without X-Forwarded-For, or with garbage in it, is the peer itself", () => {
    expect(resolve(req(), "127.0.0.1")).toBe("127.0.0.1");
    expect(resolve(req("1.2.3.4, not-an-ip"), "127.0.0.1")).toBe("127.0.0.1");
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
      expect(resolve(req(`198.51.100.7, ${garbage}`), "127.0.0.1")).toBe("127.0.0.1");
      expect(resolve(req(`198.51.100.7, ${garbage}`), "127.0.0.1")).toBe("127.0.0.1");
    }
  });
  test("a bad TRUSTED_PROXIES entry is named", () => {
    expect(() => parseTrustedProxies("127.0.0.1, nope")).toThrow('"nope" is not an IP address or CIDR range');
  });
});
