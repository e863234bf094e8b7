#!/usr/bin/env bun
/**
 * Measures migration 0003 on a populated database while it is used: fills a 0002-schema database
 * (bench/lib/data.ts), starts a steady load of the statements the service runs on events and urls
 * (with the service's lock and statement timeouts), then applies the migration and runs the event
 * partition job's conversion (copy, swap, drop of the old table) under that load. Prints, per
 * phase, how many operations ran, how many failed (a lock_timeout is what the API answers 503),
 * and their p99 and max latency: the max is the longest any request waited on a lock.
 *   bun bench/events-conversion.ts [--links 100000] [--events 1000000] [--pg-dir DIR]
 * Numbers on a shared machine are indicative only.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type Sql } from "../service/src/db/client.ts";
import { migrate } from "../service/src/db/migrate.ts";
import { createEventPartitions } from "../service/src/db/event-partitions.ts";
import { createLogger } from "../service/src/lib/logger.ts";
import { startCluster } from "./lib/databases.ts";
import { fill } from "./lib/data.ts";
import { codeOf } from "./lib/data.ts";
import { parseArgs } from "./generate.ts";
import { installExitHooks, stopAll } from "./lib/procs.ts";

/** Migrations before 0003 (the schema the fill is made on). */
const BEFORE_0003 = 3;
/** The service's defaults (config.ts): a request waits at most this long for a lock. */
const LOCK_TIMEOUT_MS = 1_000;
const STATEMENT_TIMEOUT_MS = 5_000;
const STEADY_MS = 5_000;

interface Op { kind: string; at: number; ms: number; failed: boolean }

const args = parseArgs(process.argv.slice(2));
const links = Number(args.get("links") ?? 100_000);
const events = Number(args.get("events") ?? 1_000_000);
const users = Math.max(1, Math.ceil(links / 100));

installExitHooks();
const work = await mkdtemp(join(tmpdir(), "linkfort-conv-bench-"));
const cluster = await startCluster(work, args.get("pg-dir"));
const url = await cluster.database(`conv_${links}_${events}`);
const admin = connect({ url, poolMax: 2, statementTimeoutMs: 3_600_000, applicationName: "bench-admin" }).sql;
await admin`drop schema if exists public cascade`;
await admin`drop schema if exists drizzle cascade`;
await admin`create schema public`;
await migrate(admin, { upTo: BEFORE_0003 });
const t0 = performance.now();
await fill(admin, { users, links, events }, (line) => console.log(`fill ${line}`));
console.log(`fill done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
const [maxId] = await admin<{ n: string }[]>`select max(id)::text as n from events`;
const [filledRows] = await admin<{ n: string }[]>`select count(*)::text as n from events`;

const ops: Op[] = [];
const marks: { at: number; what: string }[] = [];
const mark = (what: string) => { marks.push({ at: performance.now(), what }); console.log(`${((performance.now() - t0) / 1000).toFixed(1)} s: ${what}`); };
let running = true;
const service = connect({ url, poolMax: 10, statementTimeoutMs: STATEMENT_TIMEOUT_MS, lockTimeoutMs: LOCK_TIMEOUT_MS, applicationName: "bench-load" }).sql;
const rand = (n: number) => 1 + Math.floor(Math.random() * n);

async function loop(kind: string, op: () => Promise<unknown>, pauseMs: number): Promise<void> {
  while (running) {
    const at = performance.now();
    let failed = false;
    try { await op(); } catch { failed = true; }
    ops.push({ kind, at, ms: performance.now() - at, failed });
    await Bun.sleep(pauseMs);
  }
}

const loops = [
  // POST /events and the created event of POST /urls: one insert with its foreign keys.
  loop("insert event", () => { const u = rand(links); return service`insert into events (url_id, user_id, event_type, details) values (${u}, ${(u % users) + 1}, 'bench', '{}') returning *`; }, 5),
  // A click batch: 50 clicked events and their daily rollups in one statement (clicks/repo.ts, reduced).
  loop("click batch", () => {
    const ids = Array.from({ length: 50 }, () => rand(links));
    return service`
      with c as (select u.id as url_id, u.user_id from unnest(${`{${ids.join(",")}}`}::text::int[]) x(id) join urls u on u.id = x.id),
      ins as (insert into events (url_id, user_id, event_type, details) select url_id, user_id, 'clicked', '{}' from c returning 1)
      insert into click_daily (url_id, day, clicks) select url_id, current_date, count(*) from c group by 1 order by 1
      on conflict (url_id, day) do update set clicks = click_daily.clicks + excluded.clicks`;
  }, 20),
  // GET /events?url_id=… and GET /events/:id.
  loop("list events", () => service`select * from events where url_id = ${rand(links)} order by id limit 20`, 5),
  loop("get event", () => service`select * from events where id = ${rand(Number(maxId?.n ?? 1))}`, 5),
  // A redirect's lookup (cache miss): urls is touched by the foreign-key changes.
  loop("redirect lookup", () => service`select id, original_url, is_active from urls where short_code = ${codeOf(rand(links))}`, 5),
];

const t1 = performance.now();
mark("load running (before)");
await Bun.sleep(STEADY_MS);
mark("migration 0003 starts");
const migrated = await migrate(admin);
mark(`migration 0003 committed (${migrated.applied} applied)`);
const logger = createLogger("info", {}, (line) => {
  const entry = JSON.parse(line) as { msg: string };
  if (entry.msg.startsWith("events conversion")) mark(`${entry.msg} ${line}`);
});
const job = createEventPartitions(admin, { monthsAhead: 3, retentionMonths: 0, copyBatchRows: 5_000, lockTimeoutMs: 300, everyMs: 3_600_000 }, logger);
mark("conversion copy starts");
const report = await job.runOnce();
mark(`partition job round done ${JSON.stringify(report)}`);
await Bun.sleep(STEADY_MS);
running = false;
await Promise.all(loops);
mark("load stopped");

// Every row of the fill plus every insert the load saw succeed (a click batch writes 50), none twice.
const [rows] = await admin<{ n: string; distinct_ids: string }[]>`select count(*)::text as n, count(distinct id)::text as distinct_ids from events`;
const ok = (kind: string) => ops.filter((o) => o.kind === kind && !o.failed).length;
const expected = Number(filledRows?.n) + ok("insert event") + 50 * ok("click batch");
console.log(`events after: ${rows?.n} (distinct ids ${rows?.distinct_ids}), expected ${expected}: ${Number(rows?.n) === expected && rows?.n === rows?.distinct_ids ? "every row kept" : "MISMATCH"}`);
const phases = marks.map((m, i) => ({ what: m.what.slice(0, 40), from: m.at, to: marks[i + 1]?.at ?? Infinity }));
const q = (xs: number[], p: number) => xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
console.log("\nphase (starts at) | kind | ops | failed | p99 ms | max ms");
for (const phase of phases.slice(0, -1)) {
  for (const kind of [...new Set(ops.map((o) => o.kind))]) {
    const inPhase = ops.filter((o) => o.kind === kind && o.at >= phase.from && o.at < phase.to);
    if (inPhase.length === 0) continue;
    const ms = inPhase.map((o) => o.ms);
    console.log(`${phase.what} (${((phase.from - t1) / 1000).toFixed(1)} s) | ${kind} | ${inPhase.length} | ${inPhase.filter((o) => o.failed).length} | ${q(ms, 0.99).toFixed(1)} | ${Math.max(...ms).toFixed(1)}`);
  }
}
await service.end();
await admin.end();
await stopAll();
if (!args.get("pg-dir")) await rm(work, { recursive: true, force: true }).catch(() => {});
process.exit(0);
