import { describe, expect, test } from "bun:test";
import { hostOf, isLoopbackHost, refusal } from "./loopback.ts";

describe("isLoopbackHost", () => {
  test("loopback names and addresses", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST", "status.localhost", "::ffff:127.0.0.1"]) {
      expect([host, isLoopbackHost(host)]).toEqual([host, true]);
    }
  });
  test("everything else", () => {
    for (const host of ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com", "127.0.0.1.nip.io", "localhost.example.com", ""]) {
      expect([host, isLoopbackHost(host)]).toEqual([host, false]);
    }
  });
});

describe("refusal", () => {
  const req = (method: string, headers: Record<string, string>) => new Request("http://127.0.0.1:9100/rolling-restart", { method, headers });
  test("Host headers", () => {
    expect(hostOf("[::1]:9100")).toBe("::1");
    expect(hostOf("localhost:9100")).toBe("localhost");
    expect(refusal(req("GET", { Host: "127.0.0.1:9100" }), { loopbackOnly: true })).toBeUndefined();
    expect(refusal(req("GET", { Host: "rebound.example:9100" }), { loopbackOnly: true })).toBe('Host "rebound.example:9100" is not a loopback name');
    expect(refusal(req("GET", { Host: "status.internal:9100" }), { loopbackOnly: false })).toBeUndefined();
  });
  test("a POST from this page's own origin or from a CLI passes; cross-site does not", () => {
    const host = { Host: "127.0.0.1:9100" };
    expect(refusal(req("POST", host), { loopbackOnly: true })).toBeUndefined();
    expect(refusal(req("POST", { ...host, Origin: "http://127.0.0.1:9100" }), { loopbackOnly: true })).toBeUndefined();
    expect(refusal(req("POST", { ...host, Origin: "null" }), { loopbackOnly: true })).toBe('Origin "null" is not this server');
    expect(refusal(req("POST", { ...host, "Sec-Fetch-Site": "cross-site" }), { loopbackOnly: true })).toBe("cross-site request");
  });
});
