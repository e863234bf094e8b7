/**
 * Deterministic benchmark data, generated inside PostgreSQL (`INSERT … SELECT generate_series`:
 * no row crosses the wire). Link i has code codeOf(i), so the load tools know every code without
 * asking the database, and generated codes (7 characters, prefix "b") never collide with the
 * 6-character codes the service issues on POST /urls. Every link gets events/links clicks on
 * average, spread over the EVENT_DAYS days before the day of the fill, and the click rollups are
 * filled from those events, so GET /urls/:id/stats answers what a click consumer would have
 * written. Clicks a benchmark adds later land on the fill day or after, which is what lets
 * `resetClicks` take them out again.
 */
import type { Sql, TransactionSql } from "postgres";
import { agentFamily, referrerKey } from "../../service/src/clicks/rollup.ts";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export function codeOf(i: number): string {
  let s = "";
  for (let n = i; n > 0; n = Math.floor(n / 62)) s = ALPHABET[n % 62] + s;
  return "b" + s.padStart(6, "0");
}

/** codeOf as a SQL expression over a bigint column (six base-62 digits, like padStart(6, "0")). */
const codeSql = (col: string) =>
  `'b' || ${[5, 4, 3, 2, 1, 0].map((k) => `substr('${ALPHABET}', ((${col} / ${62 ** k}) % 62)::int + 1, 1)`).join(" || ")}`;

export interface Sizes {
  users: number;
  links: number;
  events: number;
}

/** Clicks are spread over this many days, up to the day before the fill. */
export const EVENT_DAYS = 90;

/** What a finished fill generated (table bench_fill in the filled database). */
export interface Filled extends Sizes {
  /** UTC day of the fill, YYYY-MM-DD: generated clicks are all before it. */
  day: string;
}

// A few referrers and agents, as real clicks carry them; the rollup keys come from the service's
// own functions, so generated rollups match what clicks/repo.ts would have counted.
const REFERRERS = [null, "https://www.google.com/search?q=link", "https://t.co/AbCdEf", "https://news.ycombinator.com/item?id=1", "android-app://com.slack"];
const AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
  "curl/8.5.0",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
];
const literal = (s: string | null) => (s === null ? "null" : `'${s.replaceAll("'", "''")}'`);
const arraySql = (items: (string | null)[]) => `(array[${items.map(literal).join(", ")}]::text[])`;

// Knuth's multiplicative hash (the low 32 bits, as Math.imul gives), so runs are reproducible.
const hash = (col: string, multiplier: number) => `((${col} * ${multiplier}::bigint) % 4294967296)`;

/** Tables the fill replaces (their rows are generated); the click receipts are emptied too. */
const FILLED = ["users", "urls", "events", "click_daily", "click_referrers", "click_agents"];
/** Tables whose primary keys are dropped during the load and rebuilt after: no foreign key references them. */
const UNREFERENCED = ["events", "click_daily", "click_referrers", "click_agents"];
/** Rows per INSERT of events: a progress line each, and no single statement runs for minutes. */
const EVENT_CHUNK = 1_000_000;

interface Ddl { drop: string; create: string }

/**
 * Statements that drop and recreate the indexes of the filled tables (and the primary keys of
 * the unreferenced ones), read from the catalog so they always match the migrations. Building an
 * index once over the loaded rows is one sort instead of millions of b-tree inserts.
 */
async function indexesOf(tx: TransactionSql): Promise<Ddl[]> {
  const rows = await tx<{ tbl: string; name: string; def: string; constraint: boolean }[]>`
    select indrelid::regclass::text as tbl, c.conname is not null as constraint,
           coalesce(c.conname, indexrelid::regclass::text) as name,
           coalesce(pg_get_constraintdef(c.oid), pg_get_indexdef(indexrelid)) as def
    from pg_index i
    left join pg_constraint c on c.conindid = i.indexrelid and c.conrelid = i.indrelid and c.contype in ('p', 'u')
    where indrelid = any(${FILLED}::regclass[]) and (c.conname is null or indrelid = any(${UNREFERENCED}::regclass[]))`;
  return rows.map((r) => r.constraint
    ? { drop: `alter table ${r.tbl} drop constraint ${r.name}`, create: `alter table ${r.tbl} add constraint ${r.name} ${r.def}` }
    : { drop: `drop index ${r.name}`, create: r.def });
}

/**
 * Empties users/urls/events and the click tables and fills them with `sizes` rows, all in one
 * transaction (a failed fill leaves the database as it was), then moves the id sequences past the
 * data so POST /users and /urls keep working, and vacuums so the benchmark does not pay for
 * setting hint bits on its first reads.
 */
export async function fill(sql: Sql, sizes: Sizes, log: (line: string) => void = () => {}): Promise<void> {
  const step = async (what: string, work: () => Promise<unknown>) => {
    const t = performance.now();
    await work();
    log(`${what}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  };
  await sql.begin(async (tx) => {
    // The rollups' hash aggregates hold ~10M groups at 1M/10M; in memory they take seconds, spilled minutes.
    await tx.unsafe("set local work_mem = '1GB'; set local maintenance_work_mem = '1GB'");
    const [role] = await tx<{ superuser: boolean }[]>`select rolsuper as superuser from pg_roles where rolname = current_user`;
    // Every generated reference exists by construction (url ≤ links, user ≤ users), so a superuser
    // skips the per-row foreign-key triggers; the constraints themselves stay in place.
    if (role?.superuser) await tx.unsafe("set local session_replication_role = replica");
    await tx.unsafe(`truncate ${FILLED.join(", ")}, click_receipts restart identity cascade`);
    const indexes = await indexesOf(tx);
    for (const d of indexes) await tx.unsafe(d.drop);

    await step(`users ${sizes.users} + links ${sizes.links}`, async () => {
      await tx.unsafe(`
        insert into users (id, username, email, created_at)
        select i, 'bench' || i, 'bench' || i || '@bench.example', timestamp '2025-01-01'
        from generate_series(1, ${sizes.users}) i`);
      await tx.unsafe(`
        insert into urls (id, user_id, short_code, original_url, title, is_active, created_at, updated_at)
        select i, (i % ${sizes.users}) + 1, ${codeSql("i")}, 'https://example.com/bench/' || i, 'bench ' || i, true,
               timestamp '2025-01-01', timestamp '2025-01-01'
        from generate_series(1::bigint, ${sizes.links}) i`);
    });
    // Each chunk's rows are generated once: they become the events, and their narrow keys
    // (link, day, referrer, agent) go to a temp table that the rollups are counted from, so the
    // rollups match the events by construction and never re-read ten million jsonb values.
    await tx.unsafe("create temp table bench_clicks (url_id int, day date, referrer smallint, agent smallint) on commit drop");
    for (let start = 1; start <= sizes.events; start += EVENT_CHUNK) {
      const end = Math.min(sizes.events, start + EVENT_CHUNK - 1);
      await step(`events ${start}..${end}`, () => tx.unsafe(`
        with g as (
          select i, u.url, date_trunc('day', now() at time zone 'UTC') - (1 + ${hash("i", 2246822519)} % ${EVENT_DAYS * 86_400}) * interval '1 second' as at,
                 ((i / 3) % ${REFERRERS.length})::int + 1 as referrer, ((i / 7) % ${AGENTS.length})::int + 1 as agent
          from generate_series(${start}::bigint, ${end}) i
          cross join lateral (select ${hash("i", 2654435761)} % ${sizes.links} + 1 as url) u
        ),
        inserted as (
          insert into events (id, url_id, user_id, event_type, timestamp, details)
          select i, url, (url % ${sizes.users}) + 1, 'clicked', at,
                 jsonb_strip_nulls(jsonb_build_object(
                   'short_code', ${codeSql("url")},
                   'referrer', ${arraySql(REFERRERS)}[referrer],
                   'user_agent', ${arraySql(AGENTS)}[agent],
                   'client_ip', '198.51.100.' || (i % 250)))
          from g
        )
        insert into bench_clicks select url, at::date, referrer, agent from g`));
    }
    await step("rollups (daily, referrers, agents)", async () => {
      await tx.unsafe("insert into click_daily (url_id, day, clicks) select url_id, day, count(*) from bench_clicks group by 1, 2");
      await tx.unsafe(`
        insert into click_referrers (url_id, day, referrer, clicks)
        select url_id, day, (${arraySql(REFERRERS.map((r) => referrerKey(r ?? undefined)))})[referrer], count(*) from bench_clicks group by 1, 2, referrer`);
      await tx.unsafe(`
        insert into click_agents (url_id, day, agent, clicks)
        select url_id, day, (${arraySql(AGENTS.map((a) => agentFamily(a)))})[agent], count(*) from bench_clicks group by 1, 2, agent`);
    });
    await step("keys and indexes rebuilt", async () => {
      for (const d of indexes) await tx.unsafe(d.create);
    });
    await setSequences(tx);
    await tx.unsafe("create table if not exists bench_fill (users int not null, links int not null, events int not null, day date not null)");
    await tx.unsafe("truncate bench_fill");
    await tx`insert into bench_fill values (${sizes.users}, ${sizes.links}, ${sizes.events}, (now() at time zone 'UTC')::date)`;
  });
  await step("vacuum analyze", () => sql.unsafe(`vacuum (analyze) ${FILLED.join(", ")}`));
}

const setSequences = async (sql: Sql | TransactionSql) => {
  for (const table of ["users", "urls", "events"]) {
    await sql.unsafe(`select setval(pg_get_serial_sequence('${table}', 'id'), greatest((select max(id) from ${table}), 1))`);
  }
};

/** What the last finished fill of this database generated; undefined if none did. */
export async function filled(sql: Sql): Promise<Filled | undefined> {
  const [table] = await sql<{ exists: boolean }[]>`select to_regclass('bench_fill') is not null as exists`;
  if (!table?.exists) return undefined;
  const [row] = await sql<Filled[]>`select users, links, events, to_char(day, 'YYYY-MM-DD') as day from bench_fill`;
  return row;
}

/**
 * Takes out what benchmarks added since the fill (redirect clicks: events past the generated
 * ids, their receipts and the rollup rows of the fill day and later), so a reused dataset is
 * the generated one again. Returns how many events went.
 */
export async function resetClicks(sql: Sql, fill: Filled): Promise<number> {
  const removed = await sql.begin(async (tx) => {
    const events = await tx`delete from events where id > ${fill.events}`;
    await tx`delete from click_receipts`;
    for (const table of ["click_daily", "click_referrers", "click_agents"]) await tx`delete from ${tx(table)} where day >= ${fill.day}::date`;
    await setSequences(tx);
    return events.count;
  });
  if (removed > 0) await sql.unsafe(`vacuum (analyze) events, click_receipts, click_daily, click_referrers, click_agents`);
  return removed;
}

/** Redirect paths for the load tools, one per line (the wrk Lua script and autocannon worker read it). */
export async function writeCodes(path: string, links: number): Promise<void> {
  const lines: string[] = [];
  for (let i = 1; i <= links; i++) lines.push(`/${codeOf(i)}`);
  await Bun.write(path, lines.join("\n") + "\n");
}
