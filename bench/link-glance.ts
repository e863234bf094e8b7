#!/usr/bin/env bun
/**
 * The operator console's link reads (service/src/admin-links/repo.ts) on a big table: top links
 * today from the daily click rollup, and search by code, code prefix and destination URL, with
 * and without the indexes one could add. Each query's median of 7 runs (after one warm-up) on an
 * embedded PostgreSQL (or DATABASE_URL, a migrated database whose links are replaced).
 *
 *   bun bench/link-glance.ts [--links 200000] [--days 30]
 *
 * Rollup rows: a fifth of the links clicked on each of the last --days days. Under the shared
 * machine's load the times are indicative; compare rows within one run.
 */
import postgres from "postgres";
import { parseArgs } from "./generate.ts";
import { migrate } from "../service/src/db/migrate.ts";
import { createAdminLinksRepo } from "../service/src/admin-links/repo.ts";
import { installExitHooks, runScript } from "./lib/procs.ts";
import * as stack from "./lib/stack.ts";

const RUNS = 7;

async function median(run: () => Promise<unknown>): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[RUNS >> 1]!;
}

async function fill(sql: postgres.Sql, links: number, days: number): Promise<void> {
  await sql`truncate users, urls, events, click_daily, click_referrers, click_agents restart identity cascade`;
  await sql`insert into users (username, email) values ('bench', 'bench@example.com')`;
  // Codes b + hex (unique); destinations on 5,000 shop hosts, each path unique.
  await sql`insert into urls (user_id, short_code, original_url, title)
    select 1, 'b' || to_hex(i), 'https://shop' || (i % 5000) || '.example.com/products/' || md5(i::text) || '?utm_source=mail', 'bench ' || i
    from generate_series(1, ${links}) i`;
  await sql`insert into click_daily (url_id, day, clicks, bot_clicks)
    select i, current_date - d, 1 + (i * 7919 + d) % 500, (i + d) % 3
    from generate_series(1, ${links}) i, generate_series(0, ${days - 1}) d where (i + d) % 5 = 0`;
  await sql`vacuum analyze urls`;
  await sql`vacuum analyze click_daily`;
}

async function main(): Promise<void> {
  installExitHooks();
  const args = parseArgs(process.argv.slice(2));
  const links = Number(args.get("links") ?? 200_000);
  const days = Number(args.get("days") ?? 30);
  const url = await stack.startPostgres(await stack.workDir());
  // Two: migrate() holds one for its advisory lock.
  const sql = postgres(url, { max: 2, onnotice: () => {}, connection: { TimeZone: "UTC", statement_timeout: 60_000 } });
  await migrate(sql);
  const filled = performance.now();
  await fill(sql, links, days);
  const [rollup] = await sql<{ n: number }[]>`select count(*)::float8 as n from click_daily`;
  console.log(`${links} links, ${rollup!.n} click_daily rows over ${days} days (filled in ${((performance.now() - filled) / 1000).toFixed(1)} s)`);
  const repo = createAdminLinksRepo(sql);
  const code = `b${(links >> 1).toString(16)}`;
  const queries: [string, () => Promise<unknown>][] = [
    ["top 20 today", () => repo.top(20)],
    ["top 100 today", () => repo.top(100)],
    [`search exact code (${code})`, () => repo.search(code, 20)],
    [`search code prefix (${code.slice(0, 4)})`, () => repo.search(code.slice(0, 4), 20)],
    ["search URL, common (shop42.)", () => repo.search("shop42.", 20)],
    ["search URL, no match (nowhere)", () => repo.search("nowhere", 20)],
  ];
  const variants: [string, string | null][] = [
    ["without click_daily_day_idx (migrations 0000-0005)", "drop index click_daily_day_idx"],
    ["as migrated (0006 adds click_daily_day_idx)", "create index click_daily_day_idx on click_daily (day); analyze click_daily"],
    ["+ GIN pg_trgm on urls.original_url", "create extension if not exists pg_trgm; create index bench_trgm on urls using gin (original_url gin_trgm_ops); analyze urls"],
  ];
  for (const [variant, ddl] of variants) {
    const started = performance.now();
    if (ddl) await sql.unsafe(ddl);
    console.log(`\n${variant}${ddl ? ` (its DDL took ${((performance.now() - started) / 1000).toFixed(2)} s)` : ""}`);
    for (const [name, run] of queries) console.log(`  ${name.padEnd(40)} ${(await median(run)).toFixed(1).padStart(8)} ms`);
  }
  await sql.end();
}

await runScript(main, (line) => console.error(line));
