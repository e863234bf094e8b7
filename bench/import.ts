#!/usr/bin/env bun
/**
 * Import target (docs/PERFORMANCE.md): `linkfort import` of a urls CSV at ≥ 0.5 × the speed of
 * `psql \copy` of the same file into the same empty table. Both load one generated file (users
 * already present) into one database, alternating which goes first, --rounds times; each run
 * starts after a TRUNCATE and a CHECKPOINT, and is timed end to end (process start to exit).
 */
import { mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import postgres from "postgres";
import { parseArgs } from "./generate.ts";
import { codeOf } from "./lib/data.ts";
import { dataset, parseSettings, startCluster } from "./lib/databases.ts";
import { installExitHooks, onCleanup, runScript } from "./lib/procs.ts";
import * as stack from "./lib/stack.ts";

const HELP = `bun bench/import.ts [options]
  --rows N              rows in the urls CSV (default 1000000)
  --rounds N            runs of each loader, alternating which goes first (default 3)
  --pg-settings LIST    PostgreSQL settings, e.g. shared_buffers=2GB,max_wal_size=8GB on top of the quick start's (QUICK_START_SETTINGS in service/src/lib/embedded-postgres.ts)
  --pg-dir DIR          keep PostgreSQL's files in DIR
  --source              run linkfort from source instead of the compiled binary
  --json FILE           result file (default bench/results/import.json)`;

const args = parseArgs(process.argv.slice(2));
if (args.has("help")) { console.log(HELP); process.exit(0); }
const rows = Number(args.get("rows") ?? 1_000_000);
const rounds = Number(args.get("rounds") ?? 3);
const USERS = 10_000;
const jsonPath = args.get("json") ?? join(stack.ROOT, "bench/results/import.json");
const log = (line: string) => process.stderr.write(`[import] ${line}\n`);
installExitHooks();

const COLUMNS = "id,user_id,short_code,original_url,title,is_active,created_at,updated_at";

/** A urls CSV as the seed files are written (header, True/False, "YYYY-MM-DD HH:MM:SS"). */
async function writeCsv(path: string, n: number): Promise<number> {
  const writer = Bun.file(path).writer();
  writer.write(`${COLUMNS}\n`);
  for (let i = 1; i <= n; i++) {
    const active = i % 10 === 0 ? "False" : "True";
    writer.write(`${i},${(i % USERS) + 1},${codeOf(i)},https://example.com/import/${i}?utm_source=bench,"Import, row ${i}",${active},2025-01-01 00:00:00,2025-01-02 03:04:05\n`);
  }
  await writer.end();
  return Bun.file(path).size;
}

async function main(): Promise<void> {
  const dir = await stack.workDir();
  onCleanup(() => rm(dir, { recursive: true, force: true })); // registered first, so it runs last
  const cluster = await startCluster(dir, args.get("pg-dir"), parseSettings(args.get("pg-settings")));
  const cmd = await stack.buildLinkfort(dir, args.has("source"));
  const data = await dataset(cluster, cmd, "linkfort_import", { users: USERS, links: 0, events: 0 }, log);
  const csv = join(dir, "urls.csv");
  const bytes = await writeCsv(csv, rows);
  log(`${csv}: ${rows} rows, ${(bytes / 1048576).toFixed(0)} MB`);
  const sql = postgres(data.url, { max: 1, onnotice: () => {} });
  const loaders = {
    linkfort: () => stack.linkfortCli(cmd, ["import", csv], { DATABASE_URL: data.url, LOG_LEVEL: "warn" }),
    psql: () => Bun.$`psql ${data.url} -v ON_ERROR_STOP=1 -c ${`\\copy urls (${COLUMNS}) from '${csv}' with (format csv, header true)`}`.quiet(),
  };
  const runs: { round: number; loader: string; seconds: number }[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? (["linkfort", "psql"] as const) : (["psql", "linkfort"] as const);
      for (const loader of order) {
        await sql.unsafe("truncate urls restart identity cascade");
        await sql.unsafe("checkpoint");
        const t = performance.now();
        await loaders[loader]();
        const seconds = (performance.now() - t) / 1000;
        const [row] = await sql<{ n: number }[]>`select count(*)::int as n from urls`;
        if (row!.n !== rows) throw new Error(`${loader} left ${row!.n} rows, not ${rows}`);
        runs.push({ round, loader, seconds });
        log(`round ${round} ${loader}: ${rows} rows in ${seconds.toFixed(1)} s (${Math.round(rows / seconds)} rows/s)`);
      }
    }
  } finally {
    await sql.end();
  }
  const ratios = Array.from({ length: rounds }, (_, i) => {
    const of = (loader: string) => runs.find((r) => r.round === i + 1 && r.loader === loader)!.seconds;
    return of("psql") / of("linkfort");
  });
  const out = {
    commit: (await Bun.$`git -C ${stack.ROOT} log --oneline -1`.quiet().text()).trim(),
    load: (await Bun.file("/proc/loadavg").text()).trim(), rows, csvBytes: bytes, runs,
    ratios, ratioRange: [Math.min(...ratios), Math.max(...ratios)], met: Math.min(...ratios) >= 0.5,
  };
  console.log("| round | linkfort import s | psql \\copy s | speed ratio (psql s / linkfort s) |");
  console.log("|---|---|---|---|");
  ratios.forEach((ratio, i) => {
    const of = (loader: string) => runs.find((r) => r.round === i + 1 && r.loader === loader)!.seconds.toFixed(1);
    console.log(`| ${i + 1} | ${of("linkfort")} | ${of("psql")} | ${ratio.toFixed(2)}× |`);
  });
  await mkdir(dirname(jsonPath), { recursive: true });
  await Bun.write(jsonPath, JSON.stringify(out, null, 2));
  console.log(`JSON: ${jsonPath}`);
}

await runScript(main, log);
