/**
 * The set of live codes on real PostgreSQL, two instances on one database, over HTTP: a flood of
 * random codes answers 404 without one PostgreSQL lookup (counted at the lookup); a link created
 * through one instance redirects from the other as soon as the 201 came back, also when the
 * other's connection to PostgreSQL is slower than the writer's settle bound; a code written
 * while the LISTEN connection was down is in the set once it is back; a deleted link stays 404.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { show } from "../../test/harness.ts";
import { startInstances, type Instance, type Instances } from "../../test/instances.ts";
import { tcpProxy, type TcpProxy } from "../../test/tcp-proxy.ts";
import { waitFor } from "../../test/wait.ts";
import { SETTLE_TIMEOUT_MS } from "./invalidation.ts";
import { createLiveCodes } from "./live-codes.ts";
import { createMetrics } from "../metrics.ts";
import { silentLogger } from "../lib/logger.ts";
import { createRedirectRepo } from "../redirect/repo.ts";

const lookups = async (instance: Instance, tier: string, result: string) =>
  (await instance.deps.metrics.cacheLookups.get()).values.find((v) => v.labels.tier === tier && v.labels.result === result)?.value ?? 0;
/** PostgreSQL lookups this instance made for a redirect, found or not. */
const dbLookups = async (instance: Instance) => (await lookups(instance, "db", "hit")) + (await lookups(instance, "db", "miss"));

/** GET /<code> over HTTP with the body. */
async function get(instance: Instance, code: string) {
  const res = await fetch(`${instance.base}/${code}`, { redirect: "manual" });
  const text = await res.text();
  return { status: res.status, location: res.headers.get("location"), cache: res.headers.get("x-cache"), body: text === "" ? null : JSON.parse(text) as unknown };
}

/** POST /urls over HTTP to one instance with the admin key. */
async function create(fleet: Instances, via: Instance, userId: number, target: string): Promise<{ id: number; short_code: string }> {
  const res = await fetch(`${via.base}/urls`, {
    method: "POST", body: JSON.stringify({ user_id: userId, original_url: target }),
    headers: { authorization: `Bearer ${fleet.h.adminKey}`, "content-type": "application/json" },
  });
  const json = await res.json() as { id: number; short_code: string };
  expect(res.status, JSON.stringify(json)).toBe(201);
  return json;
}

const randomCode = () => crypto.randomUUID().replaceAll("-", "").slice(0, 6);

async function newUser(fleet: Instances, name: string): Promise<number> {
  const res = await fleet.h.request("POST", "/users", { body: { username: name, email: `${name}@example.com` } });
  expect(res.status, show(res)).toBe(201);
  return res.json.id as number;
}

const everyReady = (fleet: Instances) =>
  waitFor("every instance's live codes loaded and its peers known", () => fleet.all.every((i) => i.deps.cache.codes.ready && i.deps.cache.peers === fleet.all.length - 1), 10_000);

describe("two instances on one database", () => {
  let fleet: Instances;
  let admin: postgres.Sql;
  let userId: number;
  let a: Instance;
  let b: Instance;

  beforeAll(async () => {
    fleet = await startInstances(2);
    [a, b] = fleet.all as [Instance, Instance];
    admin = postgres(fleet.h.databaseUrl, { max: 1, onnotice: () => {} });
    userId = await newUser(fleet, "live");
    await everyReady(fleet);
  }, 30_000);
  afterAll(async () => {
    await admin.end();
    await fleet.close();
  }, 30_000);

  test("a flood of 2,000 random codes: every one 404 with its body, not one PostgreSQL lookup", async () => {
    const link = await create(fleet, a, userId, "https://flood.example/");
    const before = await dbLookups(b);
    const codes = Array.from({ length: 2_000 }, randomCode).filter((c) => c !== link.short_code);
    const wrong: string[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: 20 }, async () => {
      for (let i = next++; i < codes.length; i = next++) {
        const code = codes[i]!;
        const r = await get(b, code);
        const expected = { status: 404, location: null, cache: "lru", body: { error: "Not Found", message: `short code ${code} not found` } };
        if (!Bun.deepEquals(r, expected)) wrong.push(`${code}: ${JSON.stringify(r)}`);
      }
    }));
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(await dbLookups(b)).toBe(before);
    // The count does move: a live code B has not seen is one lookup.
    expect(await get(b, link.short_code)).toMatchObject({ status: 302, location: "https://flood.example/" });
    expect(await dbLookups(b)).toBe(before + 1);
  }, 60_000);

  test("a link created through A redirects from B as soon as the 201 came back, 40 times, 10 at once", async () => {
    const wrong: string[] = [];
    for (let round = 0; round < 4; round++) {
      await Promise.all(Array.from({ length: 10 }, async (_, i) => {
        const target = `https://made.example/${round}/${i}`;
        const link = await create(fleet, a, userId, target);
        const r = await get(b, link.short_code);
        if (r.status !== 302 || r.location !== target) wrong.push(`${link.short_code}: ${JSON.stringify(r)}`);
      }));
    }
    expect(wrong).toEqual([]);
  }, 60_000);

  test("a deleted link stays 404 on both instances, and leaves the set once PostgreSQL said so", async () => {
    const link = await create(fleet, a, userId, "https://deleted.example/");
    for (const instance of [a, b]) expect((await get(instance, link.short_code)).status).toBe(302);
    const res = await fleet.h.request("DELETE", `/urls/${link.id}`);
    expect(res.status, show(res)).toBe(204);
    for (const instance of [a, b]) {
      for (let i = 0; i < 5; i++) {
        expect(await get(instance, link.short_code)).toMatchObject({ status: 404, body: { error: "Not Found", message: `short code ${link.short_code} not found` } });
      }
      expect(instance.deps.cache.codes.has(link.short_code)).toBe(false);
    }
  });

  test("a statement past the flush threshold: each instance loads its set again and redirects the new codes", async () => {
    await admin`insert into urls (user_id, short_code, original_url)
      select ${userId}, 'lc' || lpad(i::text, 6, '0'), 'https://bulk.example/' || i from generate_series(1, 6000) as i`;
    await a.deps.cache.settle([]);
    for (const instance of [a, b]) {
      for (const n of [1, 3000, 6000]) {
        const code = `lc${String(n).padStart(6, "0")}`;
        expect(await get(instance, code)).toMatchObject({ status: 302, location: `https://bulk.example/${n}` });
      }
    }
    await everyReady(fleet);
    for (const instance of [a, b]) expect(instance.deps.cache.codes.has("lc004321")).toBe(true);
  });

  test("listener down: unknown codes are looked up; a code written meanwhile redirects once it is back", async () => {
    let stopped = false;
    // Kills B's LISTEN backend, again each time it comes back, until stopped.
    const loop = (async () => {
      while (!stopped) {
        await admin`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${`linkfort-listen:${b.port}`}`;
        await Bun.sleep(2); // a tight loop, not a wait for a condition: each round kills whatever reconnected
      }
    })();
    const code = `dn${randomCode()}`;
    try {
      await waitFor("B sees its listener gone", () => !b.deps.cache.trusted && !b.deps.cache.codes.ready, 5_000);
      const before = await dbLookups(b);
      const unknown = Array.from({ length: 10 }, randomCode);
      for (const c of unknown) expect(await get(b, c)).toMatchObject({ status: 404, body: { error: "Not Found" } });
      expect(await dbLookups(b)).toBe(before + unknown.length);
      // Its notification goes to A only: B must find it in PostgreSQL when it loads again.
      await admin`insert into urls (user_id, short_code, original_url) values (${userId}, ${code}, 'https://while-down.example/')`;
    } finally {
      stopped = true;
      await loop;
    }
    await waitFor("B listening again with its set loaded", () => b.deps.cache.trusted && b.deps.cache.codes.ready, 10_000);
    expect(b.deps.cache.codes.has(code)).toBe(true);
    expect(await get(b, code)).toMatchObject({ status: 302, location: "https://while-down.example/" });
    const before = await dbLookups(b);
    expect((await get(b, randomCode())).status).toBe(404);
    expect(await dbLookups(b)).toBe(before);
  }, 30_000);
});

describe("the other instance's connection to PostgreSQL is slower than the settle bound", () => {
  // Each way, so B hears a new link's notification after the writer stopped waiting for B's ack.
  const DELAY_MS = 2 * SETTLE_TIMEOUT_MS;
  let fleet: Instances;
  let proxy: TcpProxy | undefined;
  let userId: number;

  beforeAll(async () => {
    fleet = await startInstances(2, {}, {
      async databaseUrl(_index, url) {
        const parsed = new URL(url);
        proxy = tcpProxy({ host: parsed.hostname, port: Number(parsed.port) }, { delayMs: DELAY_MS });
        await proxy.start();
        parsed.port = String(proxy.port);
        return parsed.toString();
      },
    });
    userId = await newUser(fleet, "slow");
    await everyReady(fleet);
  }, 30_000);
  afterAll(async () => {
    await fleet.close();
    await proxy?.stop();
  }, 30_000);

  test("B answers each new link with a redirect, not a 404 from a set that has not heard of it yet", async () => {
    const [a, b] = fleet.all as [Instance, Instance];
    const wrong: string[] = [];
    for (let i = 0; i < 5; i++) {
      const target = `https://slow.example/${i}`;
      const link = await create(fleet, a, userId, target);
      const r = await get(b, link.short_code);
      if (r.status !== 302 || r.location !== target) wrong.push(`${link.short_code}: ${JSON.stringify(r)}`);
    }
    expect(wrong).toEqual([]);
    // And a code nobody made is still a 404 there.
    expect((await get(b, randomCode())).status).toBe(404);
  }, 60_000);
});

describe("loading in pages", () => {
  test("every code arrives through pages of 7, and the set is ready only once the last came", async () => {
    const fleet = await startInstances(1);
    try {
      const userId = await newUser(fleet, "pages");
      await fleet.h.deps.sql`insert into urls (user_id, short_code, original_url)
        select ${userId}, 'pg' || i, 'https://pages.example/' || i from generate_series(1, 50) as i`;
      // Written around the API: no path can name them, so they are counted in pages but not held.
      await fleet.h.deps.sql`insert into urls (user_id, short_code, original_url)
        values (${userId}, 'pg 9', 'https://pages.example/space'), (${userId}, 'pg/9', 'https://pages.example/slash')`;
      const pages: number[] = [];
      const repo = createRedirectRepo(fleet.h.deps.sql);
      let readyDuringLoad = false;
      const codes = createLiveCodes({
        metrics: createMetrics(), logger: silentLogger, pageSize: 7,
        page: async (after, limit) => {
          readyDuringLoad ||= codes.ready;
          const page = await repo.codesAfter(after, limit);
          pages.push(page.rows);
          return page;
        },
      });
      await codes.reload();
      expect(pages).toEqual([7, 7, 7, 7, 7, 7, 7, 3]);
      expect([codes.ready, readyDuringLoad, codes.size]).toEqual([true, false, 50]);
      expect(Array.from({ length: 50 }, (_, i) => codes.has(`pg${i + 1}`)).every(Boolean)).toBe(true);
      expect([codes.has("pg 9"), codes.has("pg"), codes.has("9"), codes.has("pg/9")]).toEqual([false, false, false, false]);
    } finally {
      await fleet.close();
    }
  }, 30_000);
});
