/**
 * A client with an IPv6 /64 holds 2^64 addresses. Limits and bans keyed on
 * the single address let it rotate out of every budget and ban (and the bans table gained a row
 * per address). IPv6 clients are grouped by RATE_LIMIT_IPV6_PREFIX (default /64); IPv4 stays per
 * address, and IPv4-mapped IPv6 counts as IPv4. Real PostgreSQL, real redis-server.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { waitFor } from "../../test/wait.ts";
import { clockedApp, describeSent, limitsConfig, SETUP_IP, send, type Clock } from "./test-kit.ts";
import { clientSubject } from "./subject.ts";
import type { App } from "../app.ts";

let redis: TestRedis;
let h: TestApp;
const clock: Clock = { now: Date.UTC(2031, 2, 1) };

beforeAll(async () => {
  redis = await startRedis();
  h = await testApp(limitsConfig(redis.url, { banAfterViolations: 2, banPermanentAfter: 5, banDurationS: 3_600 }));
  await h.deps.rateLimits.sync?.runOnce();
  await waitFor("redis connection", () => h.deps.redis!.up, 20_000);
}, 30_000);
afterAll(async () => {
  await h?.close();
  await redis?.stop();
}, 30_000);

let net = 0;
/** A /64 of its own per call, and addresses in it: `addr(n)` is the n-th host. */
function fresh64() {
  const prefix = `2001:db8:${(++net).toString(16)}:${(Math.floor(Math.random() * 0xfffe) + 1).toString(16)}`;
  return { prefix, addr: (n: number) => `${prefix}:${n.toString(16)}:0:0:${(n * 7919 % 0xffff).toString(16)}` };
}

async function bansOf(app: App, subject: string) {
  const list = await send(app, "GET", "/admin/bans", { ip: SETUP_IP, key: h.adminKey });
  expect(list.status, describeSent(list)).toBe(200);
  return (list.body as unknown as Record<string, unknown>[]).filter((b) => b.subject === subject);
}

describe("IPv6 clients are grouped by prefix", () => {
  test("many addresses in one /64 share one budget; another /64 has its own", async () => {
    const app = clockedApp(h.deps, clock);
    const a = fresh64();
    for (let i = 1; i <= 3; i++) {
      const res = await send(app, "GET", "/users", { ip: a.addr(i) });
      expect(res.status, describeSent(res)).not.toBe(429);
    }
    const rotated = await send(app, "GET", "/users", { ip: a.addr(4) });
    expect(rotated.status, describeSent(rotated)).toBe(429);
    const other = fresh64();
    const elsewhere = await send(app, "GET", "/users", { ip: other.addr(1) });
    expect(elsewhere.status, describeSent(elsewhere)).not.toBe(429);
  });

  test("a ban earned by rotating addresses covers the whole /64, is one row, and one lift frees it", async () => {
    const app = clockedApp(h.deps, clock);
    const a = fresh64();
    let host = 0;
    const violate = async () => {
      for (let i = 0; i < 3; i++) await send(app, "GET", "/users", { ip: a.addr(++host) });
      return send(app, "GET", "/users", { ip: a.addr(++host) });
    };
    expect((await violate()).status).toBe(429);
    clock.now += 61_000;
    const banned = await violate();
    expect(banned.status, describeSent(banned)).toBe(403);
    // Any other address of the /64, for any budget, redirects included.
    expect((await send(app, "GET", "/abcdef", { ip: a.addr(9_999) })).status).toBe(403);
    expect((await send(app, "POST", "/users", { ip: `${a.prefix}::1`, body: {} })).status).toBe(403);
    // A neighbour /64 is not banned.
    expect((await send(app, "GET", "/users", { ip: fresh64().addr(1), key: h.adminKey })).status).toBe(200);

    const subject = clientSubject(a.addr(1), 64);
    expect(subject).toBe(`${a.prefix}::/64`);
    const rows = await bansOf(app, subject);
    expect(rows.length).toBe(1);
    expect(rows[0]).toMatchObject({ kind: "ip", level: "temporary", active: true });
    const lifted = await send(app, "DELETE", `/admin/bans/${rows[0]!.id}`, { ip: SETUP_IP, key: h.adminKey });
    expect(lifted.status, describeSent(lifted)).toBe(204);
    expect((await send(app, "GET", "/users", { ip: a.addr(12_345), key: h.adminKey })).status).toBe(200);
  });

  test("the click still records the full IPv6 address", async () => {
    const app = clockedApp(h.deps, clock);
    const user = await send(app, "POST", "/users", { ip: SETUP_IP, key: h.adminKey, body: { username: "v6clicks", email: "v6clicks@example.com" } });
    const url = await send(app, "POST", "/urls", { ip: SETUP_IP, key: h.adminKey, body: { user_id: user.body?.id, original_url: "https://example.com/v6" } });
    expect(url.status, describeSent(url)).toBe(201);
    const ip = fresh64().addr(3);
    const res = await send(app, "GET", `/${url.body?.short_code}`, { ip });
    expect(res.status, describeSent(res)).toBe(302);
    const recorded = await waitFor("the click shipped", async () => {
      const rows = await h.deps.sql<{ ip: string }[]>`
        select details->>'client_ip' as ip from events where url_id = ${Number(url.body?.id)} and event_type = 'clicked'`;
      return rows[0]?.ip;
    }, 10_000);
    expect(recorded).toBe(ip);
  });

  test("IPv4 stays per address", async () => {
    const app = clockedApp(h.deps, clock);
    for (let i = 0; i < 4; i++) await send(app, "GET", "/users", { ip: "203.0.113.41" });
    expect((await send(app, "GET", "/users", { ip: "203.0.113.41" })).status).toBe(429);
    expect((await send(app, "GET", "/users", { ip: "203.0.113.42" })).status).not.toBe(429);
  });

  test("the subject of an address", () => {
    expect(clientSubject("203.0.113.9", 64)).toBe("203.0.113.9");
    expect(clientSubject("0.0.0.0", 64)).toBe("0.0.0.0");
    // IPv4-mapped IPv6, in either spelling, is the IPv4 client.
    expect(clientSubject("::ffff:203.0.113.9", 64)).toBe("203.0.113.9");
    expect(clientSubject("::FFFF:cb00:7109", 64)).toBe("203.0.113.9");
    expect(clientSubject("2001:db8:1:2:3:4:5:6", 64)).toBe("2001:db8:1:2::/64");
    expect(clientSubject("2001:0DB8:0001:0002:ffff::1", 64)).toBe("2001:db8:1:2::/64");
    expect(clientSubject("2001:db8:1:2:3:4:5:6", 48)).toBe("2001:db8:1::/48");
    expect(clientSubject("2001:db8:1:2:3:4:5:6", 56)).toBe("2001:db8:1::/56");
    expect(clientSubject("2001:db8:1:2ff:3:4:5:6", 56)).toBe("2001:db8:1:200::/56");
    expect(clientSubject("2001:db8:1:2:3:4:5:6", 128)).toBe("2001:db8:1:2:3:4:5:6");
    expect(clientSubject("2001:db8::5:6", 128)).toBe("2001:db8::5:6");
    expect(clientSubject("::1", 64)).toBe("::/64");
    expect(clientSubject("fe80::1:2:3:4", 64)).toBe("fe80::/64");
    expect(clientSubject("64:ff9b::203.0.113.9", 96)).toBe("64:ff9b::/96");
    expect(clientSubject("not an address", 64)).toBe("not an address");
  });

  test("the prefix is a setting: /128 limits each IPv6 address on its own", async () => {
    const per = await testApp(limitsConfig(redis.url, { rateLimitIpv6Prefix: 128 }));
    try {
      await waitFor("redis connection", () => per.deps.redis!.up, 20_000);
      const app = clockedApp(per.deps, clock);
      const a = fresh64();
      for (let i = 1; i <= 4; i++) expect((await send(app, "GET", "/users", { ip: a.addr(i) })).status).not.toBe(429);
    } finally {
      await per.close();
    }
  }, 30_000);
});
