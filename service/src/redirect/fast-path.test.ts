import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { createApp } from "../app.ts";
import type { ServiceConfig } from "../config.ts";
import { testApp, type TestApp } from "../../test/harness.ts";
import { instanceSpoolDir, listSegments } from "../clicks/spool-dir.ts";
import { readBatch } from "../clicks/spool-reader.ts";

// The same app served twice over real HTTP: with the fast path in front (as `linkfort serve`
// runs) and through Elysia alone. Every answer must be the same, byte for byte where it matters.
interface Served {
  h: TestApp;
  fast: string;
  plain: string;
  stop(): Promise<void>;
}

async function serveBoth(overrides: Partial<ServiceConfig> = {}): Promise<Served> {
  const h = await testApp(overrides);
  const fast = createApp(h.deps).listen({ port: 0, hostname: "127.0.0.1" });
  const plain = createApp(h.deps, { fastRedirect: false }).listen({ port: 0, hostname: "127.0.0.1" });
  return {
    h,
    fast: `http://127.0.0.1:${fast.server!.port}`,
    plain: `http://127.0.0.1:${plain.server!.port}`,
    async stop() {
      await fast.stop(true);
      await plain.stop(true);
      await h.close();
    },
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What a client can see of a response; the request id by its shape (a new one is random). */
async function seen(res: Response, givenId?: string) {
  const id = res.headers.get("x-request-id") ?? "";
  return {
    status: res.status,
    headers: [...res.headers.keys()].filter((k) => k !== "date").sort(),
    location: res.headers.get("location"),
    contentType: res.headers.get("content-type"),
    cache: res.headers.get("x-cache"),
    retryAfter: res.headers.get("retry-after"),
    requestId: givenId !== undefined && id === givenId ? "given" : UUID.test(id) ? "new uuid" : id,
    // /health's clock and click-spool numbers move between the two requests (one shared spool,
    // shipping meanwhile); which route answered is what is compared, so those values are masked.
    body: (await res.text()).replace(/"(uptime_seconds|bytes|unshipped_clicks|oldest_unshipped_age_seconds)":[\d.]+/g, '"$1":#'),
  };
}

/** One GET whose request target goes on the wire exactly as given (UTF-8), not as fetch would encode it. */
async function rawGet(base: string, target: string): Promise<{ status: number; location?: string; setCookie: boolean }> {
  const { hostname, port } = new URL(base);
  const reply = await new Promise<string>((resolve, reject) => {
    let text = "";
    const socket = connect(Number(port), hostname, () => socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    socket.setEncoding("latin1");
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${target.slice(0, 80)}`)));
    socket.on("data", (chunk: string) => { text += chunk; });
    socket.on("error", reject);
    socket.on("close", () => resolve(text));
  });
  const [head = ""] = reply.split("\r\n\r\n");
  const [statusLine = "", ...lines] = head.split("\r\n");
  const header = (name: string) => lines.find((l) => l.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
  const location = header("location");
  return { status: Number(statusLine.split(" ")[1]), ...(location === undefined ? {} : { location }), setCookie: header("set-cookie") !== undefined };
}

let s: Served;
let userId: number;
const codes: Record<string, string> = {};

async function link(originalUrl: string): Promise<{ id: number; short_code: string }> {
  const res = await s.h.request("POST", "/urls", { body: { user_id: userId, original_url: originalUrl } });
  expect(res.status).toBe(201);
  return res.json;
}

beforeAll(async () => {
  s = await serveBoth();
  userId = (await s.h.request("POST", "/users", { body: { username: "fast", email: "fast@example.com" } })).json.id;
  codes.active = (await link("HTTPS://Example.COM/a/../b/%7e?q=%41&x=[1]&y='\"#Frag")).short_code;
  const inactive = await link("https://sleepy.example/");
  await s.h.request("PUT", `/urls/${inactive.id}`, { body: { is_active: false } });
  codes.inactive = inactive.short_code;
  const deleted = await link("https://deleted.example/");
  await s.h.request("DELETE", `/urls/${deleted.id}`);
  codes.deleted = deleted.short_code;
  // Link options (issue #18), set as a row would hold them.
  const forwarding = await link("https://fwd.example/p?a=1#top");
  await s.h.deps.sql`update urls set forward_query = true where id = ${forwarding.id}`;
  codes.forwarding = forwarding.short_code;
  const expired = await link("https://expired.example/");
  await s.h.deps.sql`update urls set expires_at = '2026-01-02T03:04:05.678' where id = ${expired.id}`;
  codes.expired = expired.short_code;
}, 30_000);
afterAll(async () => { await s.stop(); }, 30_000);

/** One request to each server, each starting from an empty cache for the code, so X-Cache agrees. */
async function compare(path: string, init: RequestInit = {}, givenId?: string) {
  const code = path.split(/[/?]/)[1] ?? "";
  const ask = async (base: string) => {
    await s.h.deps.cache.settle([code]);
    return seen(await fetch(base + path, { redirect: "manual", ...init }), givenId);
  };
  const fast = await ask(s.fast);
  const plain = await ask(s.plain);
  expect(fast, `${init.method ?? "GET"} ${path}`).toEqual(plain);
  return fast;
}

describe("the redirect fast path answers as the Elysia route does", () => {
  test("an active code: 302 to exactly original_url, no body, X-Cache and a new request id", async () => {
    const res = await compare(`/${codes.active}`);
    expect(res).toMatchObject({ status: 302, location: "HTTPS://Example.COM/a/../b/%7e?q=%41&x=[1]&y='\"#Frag", cache: "db", requestId: "new uuid", body: "" });
  });

  test("a query string, a trailing slash and a caller's request id", async () => {
    expect((await compare(`/${codes.active}?utm_source=x&a=%20`)).status).toBe(302);
    await compare(`/${codes.active}/`);
    expect((await compare(`/${codes.active}`, { headers: { "x-request-id": "trace-42" } }, "trace-42")).requestId).toBe("given");
    expect((await compare(`/${codes.active}`, { headers: { "x-request-id": "a b\"c" } })).requestId).toBe("new uuid");
  });

  test("inactive, deleted and unknown codes: the same 410/404 JSON with X-Cache", async () => {
    const gone = await compare(`/${codes.inactive}`);
    expect(gone).toMatchObject({ status: 410, contentType: "application/json", cache: "db" });
    expect(JSON.parse(gone.body)).toEqual({ error: "Gone", message: `short code ${codes.inactive} is inactive` });
    for (const code of [codes.deleted, "zzzzzz", "admin", "stats"]) {
      const missing = await compare(`/${code}`);
      expect(missing).toMatchObject({ status: 404, contentType: "application/json" });
      expect(JSON.parse(missing.body).error).toBe("Not Found");
    }
  });

  test("an expired link: the same 410 JSON saying when, with no click", async () => {
    for (const method of ["GET", "HEAD"]) {
      const gone = await compare(`/${codes.expired}?x=1`, { method });
      expect(gone).toMatchObject({ status: 410, contentType: "application/json", cache: "db" });
    }
    expect(JSON.parse((await compare(`/${codes.expired}`)).body)).toEqual({ error: "Gone", message: `short code ${codes.expired} expired at 2026-01-02T03:04:05.678Z` });
  });

  test("a link that forwards its query: the same merged Location, and none forwarded when there is none", async () => {
    expect((await compare(`/${codes.forwarding}?utm=1&x=%20`)).location).toBe("https://fwd.example/p?a=1&utm=1&x=%20#top");
    expect((await compare(`/${codes.forwarding}`)).location).toBe("https://fwd.example/p?a=1#top");
    expect((await compare(`/${codes.forwarding}?`)).location).toBe("https://fwd.example/p?a=1#top");
    expect((await compare(`/${codes.forwarding}?utm=1`, { method: "HEAD" })).location).toBe("https://fwd.example/p?a=1&utm=1#top");
  });

  test("hostile request targets sent raw: the same Location, on the destination's host, or no answer at all", async () => {
    const long = "q".repeat(8_200);
    const targets: [string, string | undefined][] = [
      [`/${codes.forwarding}?x=1#@evil.example`, "https://fwd.example/p?a=1&x=1#top"],
      [`/${codes.forwarding}?@evil.example/%0d%0aSet-Cookie:%20a=b`, "https://fwd.example/p?a=1&@evil.example/%0d%0aSet-Cookie:%20a=b#top"],
      [`/${codes.forwarding}?q=\u00e4`, "https://fwd.example/p?a=1&q=%C3%A4#top"],
      // Past the 8 KiB Location cap: the visitor still goes where the link points, without the query.
      [`/${codes.forwarding}?${long}`, "https://fwd.example/p?a=1#top"],
      // Bun refuses a raw CR or LF in the request line before any handler runs.
      [`/${codes.forwarding}?a=\r\nSet-Cookie: b=c`, undefined],
    ];
    for (const [target, location] of targets) {
      const fast = await rawGet(s.fast, target);
      const plain = await rawGet(s.plain, target);
      expect(fast, target.slice(0, 80)).toEqual(plain);
      if (location === undefined) expect(fast.status, target).toBeGreaterThanOrEqual(400);
      else expect(fast, target.slice(0, 80)).toEqual({ status: 302, location, setCookie: false });
    }
  });

  test("paths that are not plainly codes, fixed routes and other methods go to Elysia unchanged", async () => {
    for (const path of [`/${"a".repeat(17)}`, "/a.b", "/a%20b", "/%E4%BE%8B", "/favicon.ico", "/health", "/live", "/ready", "/users", "/urls", "/docs/json"]) {
      await compare(path);
    }
    expect((await compare("/users")).status).toBe(401);
    await compare(`/${codes.active}`, { method: "HEAD" });
    await compare(`/${codes.active}`, { method: "POST" });
  });

  test("every 302 records one click, and none for 404/410", async () => {
    const clicked = async () => {
      await s.h.deps.clicks.flushNow();
      return (await s.h.deps.sql<{ n: number }[]>`select count(*)::int as n from events where event_type = 'clicked'`)[0]!.n;
    };
    const before = await clicked();
    const statuses = await Promise.all(Array.from({ length: 20 }, async () => (await fetch(`${s.fast}/${codes.active}`, { redirect: "manual" })).status));
    expect(statuses).toEqual(Array(20).fill(302));
    for (const code of [codes.inactive, codes.deleted]) expect((await fetch(`${s.fast}/${code}`, { redirect: "manual" })).status).toBeGreaterThanOrEqual(404);
    expect(await clicked()).toBe(before + 20);
  });

  test("click ids are UUIDv7 in answer order, from the fast path's request id and the Elysia route's own", async () => {
    const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    // The click id is the first field of each spool line (clicks/spool-format.ts); the newest
    // segment is never deleted and holds every click of this test.
    const receipts = async () => {
      await s.h.deps.clicks.flushNow();
      const dir = instanceSpoolDir(s.h.deps.config.clickSpoolDir!, s.h.deps.config.port);
      return (await readBatch(dir, { segment: listSegments(dir).at(-1)!.n, offset: 0 }, 10_000)).clicks.map((c) => c.id);
    };
    const before = new Set(await receipts());
    const fastIds: string[] = [];
    for (let i = 0; i < 5; i++) fastIds.push((await fetch(`${s.fast}/${codes.active}`, { redirect: "manual" })).headers.get("x-request-id") ?? "");
    for (let i = 0; i < 3; i++) expect((await fetch(`${s.plain}/${codes.active}`, { redirect: "manual" })).status).toBe(302);
    const added = (await receipts()).filter((id) => !before.has(id));
    expect(added.filter((id) => !V7.test(id)), added.join(" ")).toEqual([]);
    // Sorted as PostgreSQL's B-tree sorts them, the fast path's five come first, in answer order.
    const sorted = [...added].sort();
    expect(sorted).toHaveLength(8);
    expect(sorted.slice(0, 5)).toEqual(fastIds);
  });

  test("requests are counted under the route template", async () => {
    const count = async () => (await s.h.deps.metrics.httpRequests.get()).values
      .find((v) => v.labels.route === "/:short_code" && v.labels.status === "302" && v.labels.method === "GET")?.value ?? 0;
    const before = await count();
    for (let i = 0; i < 3; i++) await fetch(`${s.fast}/${codes.active}`, { redirect: "manual" });
    expect(await count()).toBe(before + 3);
    const metrics = await (await fetch(`${s.fast}/metrics`)).text();
    expect(metrics).toMatch(/linkfort_http_request_duration_seconds_count\{method="GET",route="\/:short_code",status_class="3xx"\} \d+/);
  });
});

describe("the fast path with rate limits on", () => {
  let limited: Served;
  let code: string;
  beforeAll(async () => {
    // Loopback is exempt by default; an empty exempt list makes these requests count.
    limited = await serveBoth({ rateLimits: true, rateLimitRedirects: 3, rateLimitExempt: "" });
    const user = (await limited.h.request("POST", "/users", { body: { username: "lim", email: "lim@example.com" } })).json.id;
    code = (await limited.h.request("POST", "/urls", { body: { user_id: user, original_url: "https://limited.example/" } })).json.short_code;
  }, 30_000);
  afterAll(async () => { await limited.stop(); }, 30_000);

  test("the client's redirect budget is spent and refused as through Elysia", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${limited.fast}/${code}`, { redirect: "manual" })).status);
    expect(statuses).toEqual([302, 302, 302, 429]);
    const fast = await seen(await fetch(`${limited.fast}/${code}`, { redirect: "manual" }));
    const plain = await seen(await fetch(`${limited.plain}/${code}`, { redirect: "manual" }));
    // Both spend the same budget (one client, one limiter): both are refused the same way.
    expect({ ...fast, body: JSON.parse(fast.body).error }).toEqual({ ...plain, body: JSON.parse(plain.body).error });
    expect(fast).toMatchObject({ status: 429, contentType: "application/json" });
    expect(fast.headers).toContain("ratelimit-limit");
    expect(Number(fast.retryAfter)).toBeGreaterThan(0);
    expect(JSON.parse(fast.body)).toMatchObject({ error: "Too Many Requests", retry_after: expect.any(Number) });
  });
});
