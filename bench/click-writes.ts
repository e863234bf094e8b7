#!/usr/bin/env bun
/**
 * What one click costs PostgreSQL at a dataset's size: WAL bytes, full-page images and time per
 * click, written by the spool shipper's own statement (clicks/repo.ts insertBatch) in batches
 * like the shipper's, with url ids uniform over every link (like redirect-spread). Each measurement starts
 * right after a CHECKPOINT, so every page is touched for the first time since it: the worst case
 * of a checkpoint cycle, and the same for every run. Click ids are random (v4) or time-ordered
 * (v7), alternating, so the two can be compared in one run; the clicks are taken out afterwards.
 */
import postgres from "postgres";
import { parseArgs } from "./generate.ts";
import { createClicksRepo } from "../service/src/clicks/repo.ts";
import type { Click } from "../service/src/clicks/model.ts";
import type { Sql } from "../service/src/db/client.ts";
import { dataset, parseSettings, startCluster } from "./lib/databases.ts";
import { resetClicks } from "./lib/data.ts";
import { installExitHooks, runScript } from "./lib/procs.ts";
import * as stack from "./lib/stack.ts";
import { rm } from "node:fs/promises";

const HELP = `bun bench/click-writes.ts [options]
  --size L/E            links/events of the dataset (default 1000000/10000000)
  --clicks N            clicks per measurement (default 100000)
  --rounds N            measurements of each id kind, alternating (default 2)
  --batch N             clicks per statement (default 500; the shipper sends up to CLICK_BATCH_MAX, 1000)
  --pg-settings LIST    PostgreSQL settings on top of the embedded server's, e.g. wal_compression=off
  --pg-dir DIR          keep PostgreSQL's files in DIR and reuse a dataset filled there (growth.ts fills the same)
  --without-fks         drop the click tables' foreign keys for the measurement (what their checks cost);
                        they are added back and validated afterwards
  --rollup-keys day-first  give the rollups' primary keys the day first, (day, url_id[, key]), for the
                        measurement (what that schema change would save: today's keys on a few hot pages);
                        the (url_id, day[, key]) keys are rebuilt afterwards
  --wal-records         also print the WAL of each measurement by record type (pg_walinspect), per click
  --json FILE           result file (default bench/results/click-writes.json)`;

const args = parseArgs(process.argv.slice(2));
if (args.has("help")) { console.log(HELP); process.exit(0); }
const [links, events] = (args.get("size") ?? "1000000/10000000").split("/").map(Number) as [number, number];
const clicks = Number(args.get("clicks") ?? 100_000);
const rounds = Number(args.get("rounds") ?? 2);
const batch = Number(args.get("batch") ?? 500);
const name = links >= 1_000_000 ? "linkfort_large" : "linkfort_small";
const log = (line: string) => console.error(`[click-writes] ${line}`);

type IdKind = "v4" | "v7";
const newId: Record<IdKind, () => string> = { v4: () => crypto.randomUUID(), v7: () => Bun.randomUUIDv7() };

interface WalStats { records: number; fpi: number; bytes: number }
const walStats = async (sql: postgres.Sql): Promise<WalStats> => {
  const [row] = await sql<{ records: string; fpi: string; bytes: string }[]>`select wal_records as records, wal_fpi as fpi, wal_bytes as bytes from pg_stat_wal`;
  return { records: Number(row!.records), fpi: Number(row!.fpi), bytes: Number(row!.bytes) };
};

/** WAL since `from` by record type, per click, largest first: which pages and records a click costs. */
async function walRecords(sql: postgres.Sql, from: string, clicks: number): Promise<string> {
  await sql`create extension if not exists pg_walinspect`;
  const rows = await sql<{ type: string; records: number; bytes: number }[]>`
    select "resource_manager/record_type" as type, count::float8 as records, combined_size::float8 as bytes
    from pg_get_wal_stats(${from}::pg_lsn, pg_current_wal_flush_lsn(), true) where combined_size > 0 order by combined_size desc limit 8`;
  return rows.map((r) => `${r.type} ${(r.records / clicks).toFixed(2)} records ${Math.round(r.bytes / clicks)} B`).join("; ");
}

async function measure(sql: postgres.Sql, kind: IdKind) {
  const repo = createClicksRepo(sql as unknown as Sql);
  await sql`checkpoint`;
  const before = await walStats(sql);
  const [{ lsn: startLsn }] = (await sql<{ lsn: string }[]>`select pg_current_wal_insert_lsn()::text as lsn`) as unknown as [{ lsn: string }];
  const started = performance.now();
  let written = 0;
  for (let done = 0; done < clicks; done += batch) {
    const list: Click[] = Array.from({ length: Math.min(batch, clicks - done) }, () => {
      const urlId = 1 + Math.floor(Math.random() * links);
      return { id: newId[kind](), urlId, shortCode: `b${urlId}`, at: new Date(), referrer: "https://t.co/AbCdEf", userAgent: "curl/8.5.0", clientIp: "127.0.0.1" };
    });
    written += await repo.insertBatch(list);
  }
  const seconds = (performance.now() - started) / 1000;
  const after = await walStats(sql);
  if (args.has("wal-records")) log(`${kind} WAL per click: ${await walRecords(sql, startLsn, written)}`);
  return {
    kind, written, seconds,
    clicksPerSecond: Math.round(written / seconds),
    walBytesPerClick: Math.round((after.bytes - before.bytes) / written),
    fpiPerClick: Number(((after.fpi - before.fpi) / written).toFixed(2)),
    recordsPerClick: Number(((after.records - before.records) / written).toFixed(1)),
  };
}

/** The foreign keys a click's insert checks (events → urls, users; each rollup → urls). */
const CLICK_TABLES = ["events", "click_daily", "click_referrers", "click_agents"];

/** Drops them; returns what puts them back (NOT VALID first, so the re-add does not lock for a scan, then validated). */
async function dropClickForeignKeys(sql: postgres.Sql): Promise<() => Promise<void>> {
  const fks = await sql<{ table: string; name: string; def: string }[]>`
    select conrelid::regclass::text as table, conname as name, pg_get_constraintdef(oid) as def from pg_constraint
    where contype = 'f' and conrelid::regclass::text in ${sql(CLICK_TABLES)}`;
  for (const fk of fks) await sql.unsafe(`alter table ${fk.table} drop constraint ${fk.name}`);
  log(`dropped ${fks.length} foreign keys: ${fks.map((fk) => fk.name).join(", ")}`);
  return async () => {
    for (const fk of fks) {
      await sql.unsafe(`alter table ${fk.table} add constraint ${fk.name} ${fk.def} not valid`);
      await sql.unsafe(`alter table ${fk.table} validate constraint ${fk.name}`);
    }
    log(`restored and validated ${fks.length} foreign keys`);
  };
}

/** The rollups' primary keys, url first as the schema has them; the day-first order is the alternative. */
const ROLLUP_KEYS: Record<string, string[]> = {
  click_daily: ["url_id", "day"],
  click_referrers: ["url_id", "day", "referrer"],
  click_agents: ["url_id", "day", "agent"],
};

/** Rebuilds each rollup's primary key with the day first; returns what rebuilds the schema's order. */
async function rollupKeysDayFirst(sql: postgres.Sql): Promise<() => Promise<void>> {
  const rebuild = async (order: (cols: string[]) => string[]) => {
    for (const [table, cols] of Object.entries(ROLLUP_KEYS)) {
      const [pk] = await sql<{ name: string }[]>`select conname as name from pg_constraint where conrelid = ${table}::regclass and contype = 'p'`;
      await sql.unsafe(`alter table ${table} drop constraint ${pk!.name}, add constraint ${pk!.name} primary key (${order(cols).join(", ")})`);
    }
  };
  const started = performance.now();
  await rebuild((cols) => [cols[1]!, cols[0]!, ...cols.slice(2)]);
  log(`rollup keys rebuilt day first in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return async () => {
    await rebuild((cols) => cols);
    log("rollup keys rebuilt url first again");
  };
}

/** Each id kind `rounds` times, alternating which goes first; the clicks are taken out after each. */
async function measureRounds(sql: postgres.Sql, fill: Parameters<typeof resetClicks>[1]) {
  const results = [];
  for (let r = 0; r < rounds; r++) {
    for (const kind of (r % 2 === 0 ? ["v4", "v7"] : ["v7", "v4"]) as IdKind[]) {
      const result = await measure(sql, kind);
      log(JSON.stringify(result));
      results.push(result);
      await resetClicks(sql, fill);
    }
  }
  return results;
}

async function main(): Promise<void> {
  const dir = await stack.workDir();
  const settings = parseSettings(args.get("pg-settings"));
  const cluster = await startCluster(dir, args.get("pg-dir"), settings);
  const cmd = await stack.buildLinkfort(dir, true);
  const data = await dataset(cluster, cmd, name, { users: Math.max(1, Math.ceil(links / 100)), links, events }, log);
  const sql = postgres(data.url, { max: 1, onnotice: () => {} });
  const results = [];
  try {
    const [shown] = await sql<{ s: string }[]>`select string_agg(name || '=' || current_setting(name), ', ' order by name) as s from pg_settings
      where name in ('shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'wal_compression', 'full_page_writes')`;
    log(`settings: ${shown!.s}`);
    const restoreForeignKeys = args.has("without-fks") ? await dropClickForeignKeys(sql) : undefined;
    const rollupKeys = args.get("rollup-keys") ?? "url-first";
    if (rollupKeys !== "url-first" && rollupKeys !== "day-first") throw new Error(`--rollup-keys is url-first or day-first, not ${rollupKeys}`);
    const restoreRollupKeys = rollupKeys === "day-first" ? await rollupKeysDayFirst(sql) : undefined;
    try {
      results.push(...(await measureRounds(sql, data.fill)));
    } finally {
      await restoreRollupKeys?.();
      await restoreForeignKeys?.();
    }
  } finally {
    await sql.end();
    await rm(dir, { recursive: true, force: true });
  }
  console.log("| ids | clicks/s (1 connection) | WAL bytes/click | full-page images/click | WAL records/click |");
  console.log("|---|---|---|---|---|");
  for (const r of results) console.log(`| ${r.kind} | ${r.clicksPerSecond} | ${r.walBytesPerClick} | ${r.fpiPerClick} | ${r.recordsPerClick} |`);
  const file = args.get("json") ?? "bench/results/click-writes.json";
  await Bun.write(file, JSON.stringify({ size: { links, events }, clicks, batch, settings, withoutForeignKeys: args.has("without-fks"), rollupKeys: args.get("rollup-keys") ?? "url-first", results }, null, 2));
  log(`JSON: ${file}`);
}

installExitHooks();
await runScript(main, log);
