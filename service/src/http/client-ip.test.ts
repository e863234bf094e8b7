import { describe, expect, test } from "bun:test";
import { clientIpResolver, parseTrustedProxies } from "./client-ip.ts";

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
  test("a bad TRUSTED_PROXIES entry is named", () => {
    expect(() => parseTrustedProxies("127.0.0.1, nope")).toThrow('"nope" is not an IP address or CIDR range');
  });
});
