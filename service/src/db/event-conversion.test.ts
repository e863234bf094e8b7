/**
 * Migration 0003 on a database that holds the 0002 schema with rows: every row keeps its id and
 * values, listing by id gives the same order, writes during the copy are kept, and the result is
 * a partitioned events with 64-bit ids continuing the old sequence.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createDatabase, dropDatabase } from "../../test/pg.ts";
import { silentLogger } from "../lib/logger.ts";
import { connect, type Sql } from "./client.ts";
import { migrate } from "./migrate.ts";
import { createEventPartitions } from "./event-partitions.ts";

const BEFORE_0003 = 3;

let db: { name: string; url: string };
let sql: Sql;

type EventDump = { id: string; url_id: number; user_id: number; event_type: string; ts: string; details: unknown }[];
const dumpEvents = (s: Sql) => s<EventDump>`
  select e.id::text, url_id, user_id, event_type, "timestamp"::text as ts, details from events e order by e.id`;

beforeAll(async () => {
  db = await createDatabase({ unmigrated: true });
  sql = connect({ url: db.url, poolMax: 4, statementTimeoutMs: 30_000, applicationName: "event-conversion-test" }).sql;
  // The schema as the release before 0003 left it.
  await migrate(sql, { upTo: BEFORE_0003 });
}, 60_000);

afterAll(async () => {
  await sql.end();
  await dropDatabase(db.name);
}, 30_000);

describe("migration 0003 on a populated 0002 database", () => {
  test("keeps every row, id and order, and mirrors writes made while the copy runs", async () => {
    await sql`insert into users (username, email) select 'u' || g, 'u' || g || '@example.com' from generate_series(1, 3) g`;
    await sql`insert into urls (user_id, short_code, original_url) select 1 + g % 3, 'c' || g, 'https://e.example/' || g from generate_series(1, 6) g`;
    // Six months of history, ids with gaps (deleted rows), one row far older than the rest.
    await sql`
      insert into events (url_id, user_id, event_type, "timestamp", details)
      select u.id, u.user_id, case when g % 4 = 0 then 'created' else 'clicked' end,
        timestamp '2026-06-03 10:00' + g * interval '80 minutes', jsonb_build_object('n', g)
      from generate_series(1, 3000) g join urls u on u.id = 1 + g % 6`;
    await sql`insert into events (url_id, user_id, event_type, "timestamp") values (1, 2, 'ancient', '1999-12-31 23:59:59.123456')`;
    await sql`delete from events where id % 7 = 0`;
    const before = await dumpEvents(sql);

    expect((await migrate(sql, { upTo: BEFORE_0003 + 1 })).applied).toBe(1);
    // Migrated, not yet converted: the old table still answers, the copy is pending.
    const [pending] = await sql<{ high_id: string; copied_up_to: string }[]>`select high_id::text, copied_up_to::text from linkfort_events_conversion`;
    expect(pending).toEqual({ high_id: before.at(-1)?.id ?? "", copied_up_to: "0" });

    // Writes while the conversion is pending: an insert, a deleted link's events, a deleted row.
    const [added] = await sql<{ id: string }[]>`
      insert into events (url_id, user_id, event_type, details) values (3, 1, 'during', '{"x": 1}') returning id::text`;
    await sql`delete from urls where id = 6`;
    await sql`delete from events where id = 10`;

    const job = createEventPartitions(sql, { monthsAhead: 2, retentionMonths: 0, copyBatchRows: 250, lockTimeoutMs: 2_000, everyMs: 60_000 }, silentLogger);
    const report = await job.runOnce();
    expect(report).toMatchObject({ ran: true, swapped: true, conversionRemaining: 0 });

    const expected = before.filter((e) => e.url_id !== 6 && e.id !== "10");
    const after = await dumpEvents(sql);
    expect(after.slice(0, -1)).toEqual(expected);
    expect(after.at(-1)).toMatchObject({ id: added?.id, event_type: "during", details: { x: 1 } });

    const [shape] = await sql<{ partitioned: boolean; id_type: string; old: string | null; conv: string | null; seq_type: string }[]>`
      select exists (select 1 from pg_partitioned_table where partrelid = 'events'::regclass) as partitioned,
        format_type(a.atttypid, a.atttypmod) as id_type, to_regclass('events_old')::text as old,
        to_regclass('linkfort_events_conversion')::text as conv,
        (select data_type from pg_sequences where sequencename = 'events_id_seq') as seq_type
      from pg_attribute a where a.attrelid = 'events'::regclass and a.attname = 'id'`;
    expect(shape).toEqual({ partitioned: true, id_type: "bigint", old: null, conv: null, seq_type: "bigint" });
    // The history went to monthly partitions; only the 1999 row to the default one.
    const [defaults] = await sql<{ n: number }[]>`select count(*)::int as n from events_default`;
    expect(defaults?.n).toBe(1);
    const [june] = await sql<{ n: number }[]>`select count(*)::int as n from events_p202606`;
    expect(june?.n).toBeGreaterThan(0);

    // The sequence goes on past the last id; a new row lands in the current month.
    const [next] = await sql<{ id: string }[]>`insert into events (url_id, user_id, event_type) values (1, 2, 'after') returning id::text`;
    expect(BigInt(next?.id ?? "0")).toBe(BigInt(added?.id ?? "0") + 1n);
    // Nothing is left to do: a second round changes nothing.
    expect(await job.runOnce()).toMatchObject({ ran: true, swapped: false, added: [], dropped: [], conversionRemaining: 0 });
  }, 120_000);
});
