#!/usr/bin/env bun
/**
 * Does coalescing concurrent creates into one statement pay, in PostgreSQL alone? pgbench runs
 * the service's one-create statement (urls/statements.ts INSERT_URL_SQL) with --clients clients,
 * then its many-creates statement (INSERT_URLS_SQL) with each `clients×batch` pair of --batches,
 * on the bench's PostgreSQL, and prints links written per second for each. The arrays a batch
 * sends are made in SQL here (pgbench has no arrays), which costs the server a little more than
 * the service's parameters do. See docs/PERFORMANCE.md.
 *
 *   bun bench/create-batching.ts [--duration 10] [--links 300000] [--clients 50] [--batches 10x1,10x5,5x10,2x25]
 */
import postgres from "postgres";
import { parseArgs } from "./generate.ts";
import { fill } from "./lib/data.ts";
import { createBatchedScript, runScript, withVariables } from "./lib/pgbench.ts";
import { installExitHooks, runScript as runMain } from "./lib/procs.ts";
import * as stack from "./lib/stack.ts";
import { INSERT_URL_SQL } from "../service/src/urls/statements.ts";

const args = parseArgs(process.argv.slice(2));
const num = (k: string, d: number) => (args.has(k) ? Number(args.get(k)) : d);
const duration = num("duration", 10);
const links = num("links", 300_000);
const clients = num("clients", 50);
const users = Math.max(1, Math.ceil(links / 100));
const batches = (args.get("batches") ?? "10x1,10x5,5x10,2x25").split(",").map((pair) => {
  const [c, b] = pair.split("x").map(Number);
  if (!c || !b) throw new Error(`--batches wants clients×batch pairs like 10x5, not ${pair}`);
  return { clients: c, batch: b };
});

installExitHooks();
const log = (line: string) => process.stderr.write(`[create-batching] ${line}\n`);

const single = `\\set code random(0, 56800235583)\n\\set user random(1, :users)\n${withVariables(INSERT_URL_SQL, ["code", "user", "url", "null", "null", "null", "null"])};\n`;
const many = createBatchedScript(false);

async function main(): Promise<void> {
  const dir = await stack.workDir();
  const dbUrl = await stack.startPostgres(dir);
  const cmd = await stack.buildLinkfort(dir, true);
  await stack.linkfortCli(cmd, ["migrate"], { DATABASE_URL: dbUrl, LOG_LEVEL: "warn" });
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  await fill(sql, { users, links, events: 0 }, log);
  await sql.end();
  const vars = { users: String(users), url: "https://example.com/pgbench/batching" };
  const spec = { databaseUrl: dbUrl, threads: 2, duration };
  const lines: string[] = [];
  const one = await runScript("single", single, vars, { ...spec, clients });
  lines.push(`single statement, ${clients} clients: ${one.tps.toFixed(0)} links/s (latency avg ${one.latencyAvgMs.toFixed(1)} ms)`);
  log(lines.at(-1)!);
  for (const { clients: c, batch } of batches) {
    const r = await runScript(`batch-${batch}`, many, { ...vars, batch: String(batch) }, { ...spec, clients: c });
    lines.push(`${batch} per statement, ${c} clients: ${(r.tps * batch).toFixed(0)} links/s = ${(r.tps * batch / one.tps).toFixed(2)}× (latency avg ${r.latencyAvgMs.toFixed(1)} ms)`);
    log(lines.at(-1)!);
  }
  console.log(`\nload before: ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}; ${links} links, ${duration} s each\n${lines.join("\n")}`);
}

await runMain(main, log);
