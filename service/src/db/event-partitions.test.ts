/**
 * The event partition job on a migrated database: concurrent rounds from two instances, the
 * months it adds, retention that drops only whole old partitions, and what an exhausted events
 * sequence looks like from the API.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testApp, type TestApp } from "../../test/harness.ts";
import { silentLogger } from "../lib/logger.ts";
import { connect, type Sql } from "./client.ts";
import { createEventPartitions, type EventPartitionSettings } from "./event-partitions.ts";

let h: TestApp;
const pools: Sql[] = [];
const settings = (overrides: Partial<EventPartitionSettings> = {}): EventPartitionSettings => ({
  monthsAhead: 3, retentionMonths: 0, copyBatchRows: 1_000, lockTimeoutMs: 2_000, everyMs: 3_600_000, ...overrides,
});
/** A job as another instance would run it: its own pool. */
function instance(overrides: Partial<EventPartitionSettings> = {}) {
  const { sql } = connect({ url: h.databaseUrl, poolMax: 3, statementTimeoutMs: 30_000, applicationName: "partition-test" });
  pools.push(sql);
  return createEventPartitions(sql, settings(overrides), silentLogger);
}

/** Names of events_pYYYYMM for months `from`..`to` relative to the current month (UTC). */
async function monthNames(from: number, to: number): Promise<string[]> {
  const rows = await h.deps.sql<{ name: string }[]>`
    select 'events_p' || to_char(date_trunc('month', now() at time zone 'UTC') + make_interval(months => k), 'YYYYMM') as name
    from generate_series(${from}::int, ${to}::int) k order by k`;
  return rows.map((r) => r.name);
}

const partitions = async () =>
  (await h.deps.sql<{ name: string }[]>`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'events'::regclass order by c.relname`).map((r) => r.name);

beforeAll(async () => {
  // The app's own job keeps what the migration made (two months ahead); these tests drive rounds themselves.
  h = await testApp({ eventPartitionsAhead: 2 });
  await h.deps.jobs.stop();
}, 30_000);
afterAll(async () => {
  for (const pool of pools) await pool.end();
  await h.close();
}, 30_000);

describe("event partition job", () => {
  test("a new install has the current month and two ahead, plus the default partition", async () => {
    expect(await partitions()).toEqual([...(await monthNames(0, 2)), "events_default"].sort());
  });

  test("two instances running rounds at once add each month once; further rounds change nothing", async () => {
    const a = instance({ monthsAhead: 6 });
    const b = instance({ monthsAhead: 6 });
    const rounds = await Promise.all([a.runOnce(), b.runOnce(), a.runOnce(), b.runOnce()]);
    const added = rounds.flatMap((r) => r.added);
    expect(added.sort()).toEqual(await monthNames(3, 6));
    expect(rounds.some((r) => r.ran)).toBe(true);
    expect(await partitions()).toEqual([...(await monthNames(0, 6)), "events_default"].sort());
    expect(await a.runOnce()).toEqual({ ran: true, added: [], dropped: [], conversionRemaining: 0, swapped: false });
  }, 60_000);

  test("a round does nothing while another instance holds the lock", async () => {
    const holder = await h.deps.sql.reserve();
    try {
      await holder`select pg_advisory_lock(${0x11f0_0013})`;
      expect((await instance({ monthsAhead: 8 }).runOnce()).ran).toBe(false);
      await holder`select pg_advisory_unlock(${0x11f0_0013})`;
      expect(await instance({ monthsAhead: 8 }).runOnce()).toMatchObject({ ran: true, added: await monthNames(7, 8) });
    } finally {
      holder.release();
    }
  }, 60_000);

  test("retention drops whole partitions older than the setting and keeps rollups and the default partition", async () => {
    const user = (await h.request("POST", "/users", { body: { username: "ret", email: "ret@example.com" } })).json;
    const url = (await h.request("POST", "/urls", { body: { user_id: user.id, original_url: "https://ret.example/" } })).json;
    // Two and one months back, and a month from 2020; the 1999 row goes to events_default.
    await h.deps.sql`
      select linkfort_add_event_partition('events', (date_trunc('month', now() at time zone 'UTC') - make_interval(months => k))::date)
      from generate_series(1, 2) k`;
    await h.deps.sql`select linkfort_add_event_partition('events', '2020-03-01')`;
    await h.deps.sql`
      insert into events (url_id, user_id, event_type, "timestamp")
      select ${url.id}, ${user.id}, 'clicked', t from (values
        (now() at time zone 'UTC'),
        (date_trunc('month', now() at time zone 'UTC') - interval '1 month' + interval '1 day'),
        (date_trunc('month', now() at time zone 'UTC') - interval '2 months' + interval '1 day'),
        (timestamp '2020-03-15'), (timestamp '1999-01-01')) v(t)`;
    await h.deps.sql`insert into click_daily (url_id, day, clicks) values (${url.id}, '2020-03-15', 7)`;
    const [twoBack] = await monthNames(-2, -2);

    expect((await instance({ retentionMonths: 0 }).runOnce()).dropped).toEqual([]);
    const report = await instance({ retentionMonths: 1 }).runOnce();
    expect(report.dropped).toEqual(["events_p202003", twoBack ?? ""]);

    const left = await h.deps.sql<{ ts: string }[]>`
      select "timestamp"::date::text as ts from events where url_id = ${url.id} and event_type = 'clicked' order by "timestamp"`;
    expect(left.map((r) => r.ts.slice(0, 7))).toEqual([
      "1999-01",
      ...(await h.deps.sql<{ m: string }[]>`
        select to_char(date_trunc('month', now() at time zone 'UTC') - make_interval(months => k), 'YYYY-MM') as m
        from generate_series(1, 0, -1) k`).map((r) => r.m),
    ]);
    const [rollup] = await h.deps.sql<{ clicks: number }[]>`select clicks from click_daily where url_id = ${url.id} and day = '2020-03-15'`;
    expect(rollup?.clicks).toBe(7);
    expect(await partitions()).toContain("events_default");
  }, 60_000);
});

describe("64-bit event ids", () => {
  test("ids past 2^31 are plain JSON numbers and can be read back by id", async () => {
    const user = (await h.request("POST", "/users", { body: { username: "big", email: "big@example.com" } })).json;
    const url = (await h.request("POST", "/urls", { body: { user_id: user.id, original_url: "https://big.example/" } })).json;
    const previous = (await h.deps.sql<{ id: string }[]>`select last_value::text as id from events_id_seq`)[0]?.id ?? "1";
    await h.deps.sql`select setval('events_id_seq', 3000000000)`;
    try {
      const created = await h.request("POST", "/events", { body: { url_id: url.id, user_id: user.id, event_type: "big" } });
      expect(created.status).toBe(201);
      expect(created.text).toContain('"id":3000000001,');
      const read = await h.request("GET", "/events/3000000001");
      expect(read.json).toMatchObject({ id: 3000000001, url_id: url.id, event_type: "big" });
      const listed = await h.request("GET", `/events?url_id=${url.id}&after_id=2999999999`);
      expect(listed.json.map((e: { id: number }) => e.id)).toEqual([3000000001]);
    } finally {
      await h.deps.sql`delete from events where id >= 3000000000`;
      await h.deps.sql`select setval('events_id_seq', ${previous})`;
    }
  }, 30_000);
});

describe("an exhausted events sequence", () => {
  test("is a 500 with an error metric and a full headroom gauge, never a 400", async () => {
    const user = (await h.request("POST", "/users", { body: { username: "seq", email: "seq@example.com" } })).json;
    const url = (await h.request("POST", "/urls", { body: { user_id: user.id, original_url: "https://seq.example/" } })).json;
    await h.deps.sql`select setval('events_id_seq', 9223372036854775807)`;
    try {
      const res = await h.request("POST", "/events", { body: { url_id: url.id, user_id: user.id, event_type: "x" } });
      expect(res.status).toBe(500);
      expect(res.json).toEqual({ error: "Internal Server Error", message: "the database cannot assign new ids; operators have been alerted" });
      const metrics = (await h.request("GET", "/metrics")).text;
      expect(metrics).toContain('linkfort_db_errors_total{kind="sequence_exhausted"} 1');
      expect(metrics).toContain('linkfort_db_sequence_used_ratio{sequence="events_id_seq"} 1');
    } finally {
      await h.deps.sql`select setval('events_id_seq', (select coalesce(max(id), 1) from events))`;
    }
  }, 30_000);
});
