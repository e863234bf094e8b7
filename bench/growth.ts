#!/usr/bin/env bun
/**
 * The growth target (docs/PERFORMANCE.md): p99 of redirect-spread, GET /events?url_id=… and
 * GET /urls/:id/stats at the large size ≤ 1.5 × at the small size. Both datasets are loaded
 * (one database each, one instance and one redis-server each), then every scenario is measured
 * on both sizes in alternating order for --rounds rounds, so the noise of a shared machine falls
 * on both alike; the ratio is given per round and over the medians. The query plans of the two
 * API reads at both sizes go into the JSON (EXPLAIN ANALYZE, BUFFERS).
 */
import { mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import postgres from "postgres";
import { parseArgs } from "./generate.ts";
import { EVENT_DAYS, writeCodes, type Sizes } from "./lib/data.ts";
import { dataset, parseSettings, startCluster } from "./lib/databases.ts";
import { explainReads } from "./lib/explain.ts";
import { runLoad, type LoadResult, type Tool } from "./lib/load.ts";
import { cpuSeconds, installExitHooks, onCleanup, rssMb, runScript } from "./lib/procs.ts";
import * as stack from "./lib/stack.ts";
import { waitSpoolsDrained } from "./lib/spool.ts";

const HELP = `bun bench/growth.ts [options]
  --small L/E           links/events of the small dataset (default 10000/100000)
  --large L/E           links/events of the large dataset (default 1000000/10000000)
  --scenarios LIST      comma-separated subset of events,stats,redirect-spread (default all, in that order)
  --rounds N            measurements of each scenario on each size, alternating (default 3)
  --duration S          seconds per measurement, after a 2 s warm-up (default 10)
  --connections N       concurrent connections (default 50)
  --tool T              autocannon (default) or wrk
  --rate N              offered load in req/s, the same for both sizes (autocannon only; default: as fast as
                        the instance answers, where p99 measures queueing at each size's own capacity)
  --small-env K=V,…     more environment for the small size's instance, e.g. CACHE_MAX_ENTRIES=1000 to give
                        both sizes the same LRU hit ratio (default none)
  --large-env K=V,…     the same for the large size's instance
  --pg-settings LIST    PostgreSQL settings, e.g. shared_buffers=2GB,max_wal_size=8GB on top of the quick start's (QUICK_START_SETTINGS in service/src/lib/embedded-postgres.ts)
  --pg-dir DIR          keep PostgreSQL's files in DIR and reuse datasets already filled there
  --source              run the service from source instead of the compiled binary
  --drain-timeout S     longest wait for an instance's click spool to be shipped before and after each
                        measurement (default 900; the run fails past it)
  --json FILE           result file (default bench/results/growth.json)
Environment: BENCH_PG_ADMIN_URL uses an existing PostgreSQL server instead of an embedded one.`;

const args = parseArgs(process.argv.slice(2));
if (args.has("help")) { console.log(HELP); process.exit(0); }
const size = (s: string): Sizes => {
  const [links, events] = s.split("/").map(Number);
  if (!Number.isInteger(links) || !Number.isInteger(events) || links! < 1) throw new Error(`size must be LINKS/EVENTS, not ${s}`);
  return { users: Math.max(1, Math.ceil(links! / 100)), links: links!, events: events! };
};
const sizes = { small: size(args.get("small") ?? "10000/100000"), large: size(args.get("large") ?? "1000000/10000000") };
const rounds = Number(args.get("rounds") ?? 3);
const duration = Number(args.get("duration") ?? 10);
const connections = Number(args.get("connections") ?? 50);
const tool = (args.get("tool") ?? "autocannon") as Tool;
const rate = args.has("rate") ? Number(args.get("rate")) : undefined;
const jsonPath = args.get("json") ?? join(stack.ROOT, "bench/results/growth.json");
const drainTimeoutMs = Number(args.get("drain-timeout") ?? 900) * 1000;
// Reads first: the redirects add clicks (events, rollups of the fill day), the reads then see them.
const ALL_SCENARIOS = ["events", "stats", "redirect-spread"] as const;
type Scenario = (typeof ALL_SCENARIOS)[number];
const SCENARIOS = (args.get("scenarios")?.split(",") ?? [...ALL_SCENARIOS]).map((x) => {
  if (!(ALL_SCENARIOS as readonly string[]).includes(x)) throw new Error(`unknown scenario ${x} (${ALL_SCENARIOS.join(", ")})`);
  return x as Scenario;
});
const extraEnv = { small: parseSettings(args.get("small-env")), large: parseSettings(args.get("large-env")) };
const pgSettings = parseSettings(args.get("pg-settings"));
const log = (line: string) => process.stderr.write(`[growth] ${line}\n`);
installExitHooks();

type SizeName = keyof typeof sizes;
interface Sample extends LoadResult { round: number; rssMb: number; serverCpu: number; pgConnections: number; drainS: number }

/** Runs `work` while counting the database's sessions every second (the instance's pool in use). */
async function sampleConnections<T>(url: string, work: () => Promise<T>): Promise<{ result: T; max: number }> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  let max = 0;
  const timer = setInterval(() => {
    void sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`
      .then(([row]) => { max = Math.max(max, row!.n); }, () => {});
  }, 1000);
  try {
    return { result: await work(), max };
  } finally {
    clearInterval(timer);
    await sql.end();
  }
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The generated days: the stats requests ask for all of them, so each reads every rollup row of its link. */
function generatedRange(fillDay: string): { from: string; to: string } {
  const day = Date.parse(`${fillDay}T00:00:00Z`);
  return { from: isoDay(day - EVENT_DAYS * 86_400_000), to: isoDay(day - 86_400_000) };
}

/** Path files per scenario: every code for redirects; 2000 spread link ids for the two reads. */
async function pathFiles(dir: string, name: SizeName, s: Sizes, range: { from: string; to: string }): Promise<Record<Scenario, string>> {
  const files = { "redirect-spread": join(dir, `codes-${name}.txt`), events: join(dir, `events-${name}.txt`), stats: join(dir, `stats-${name}.txt`) };
  await writeCodes(files["redirect-spread"], s.links);
  const ids = Array.from({ length: 2000 }, (_, i) => 1 + ((Math.imul(i + 1, 2654435761) >>> 0) % s.links));
  await Bun.write(files.events, ids.map((id) => `/events?url_id=${id}`).join("\n") + "\n");
  await Bun.write(files.stats, ids.map((id) => `/urls/${id}/stats?from=${range.from}&to=${range.to}`).join("\n") + "\n");
  return files;
}

async function main(): Promise<void> {
  const dir = await stack.workDir();
  onCleanup(() => rm(dir, { recursive: true, force: true })); // registered first, so it runs last
  const cluster = await startCluster(dir, args.get("pg-dir"), pgSettings);
  const cmd = await stack.buildLinkfort(dir, args.has("source"));
  const out: Record<string, unknown> = {
    commit: (await Bun.$`git -C ${stack.ROOT} log --oneline -1`.quiet().text()).trim(),
    startedAt: new Date().toISOString(), loadBefore: (await Bun.file("/proc/loadavg").text()).trim(),
    sizes, rounds, duration, connections, tool, rate, extraEnv, pgSettings,
  };
  const targets = {} as Record<SizeName, { base: string; key: string; pid: number; files: Awaited<ReturnType<typeof pathFiles>>; url: string; range: { from: string; to: string } }>;
  const fills: Record<string, number> = {};
  for (const name of ["small", "large"] as const) {
    const data = await dataset(cluster, cmd, `linkfort_${name}`, sizes[name], log);
    fills[name] = data.fillSeconds;
    // A redis-server per size: the two datasets share codes, and one cache tier would mix their links.
    const redisUrl = await stack.startRedis();
    const env = { DATABASE_URL: data.url, REDIS_URL: redisUrl, ACCESS_LOG: "false", LOG_LEVEL: "warn", RATE_LIMITS: "false", ...extraEnv[name] };
    const { children, ports } = await stack.startInstances(cmd, 1, env);
    const range = generatedRange(data.fill.day);
    targets[name] = { base: `http://127.0.0.1:${ports[0]}`, key: data.key, pid: children[0]!.pid, files: await pathFiles(dir, name, sizes[name], range), url: data.url, range };
  }
  out.fillSeconds = fills;

  const plans: Record<string, unknown> = {};
  for (const name of ["small", "large"] as const) {
    const sql = postgres(targets[name].url, { max: 1, onnotice: () => {} });
    try {
      const explained = await explainReads(sql, 1 + ((Math.imul(7, 2654435761) >>> 0) % sizes[name].links), targets[name].range);
      plans[name] = explained;
      for (const [query, kinds] of Object.entries(explained)) {
        for (const [kind, lines] of Object.entries(kinds)) {
          const index = lines.find((l) => /Index (Only )?Scan/.test(l))?.trim().replace(/\s+\(cost.*/, "") ?? "no index scan";
          log(`plan ${name} ${query} (${kind}): ${index}; ${lines.find((l) => l.includes("Buffers"))?.trim()}; ${lines.at(-1)?.trim()}`);
        }
      }
    } finally {
      await sql.end();
    }
  }
  out.plans = plans;

  const samples: Record<string, Record<SizeName, Sample[]>> = {};
  for (const scenario of SCENARIOS) {
    samples[scenario] = { small: [], large: [] };
    for (let round = 1; round <= rounds; round++) {
      // Alternate which size goes first, so a trend in the machine's load does not favour one.
      const order: SizeName[] = round % 2 === 1 ? ["small", "large"] : ["large", "small"];
      for (const name of order) {
        const t = targets[name];
        const redirect = scenario === "redirect-spread";
        const spec = { url: t.base, connections, duration, pathsFile: t.files[scenario], createRatio: 0, users: 1, threads: 1, ...(rate ? { rate } : {}), ...(redirect ? {} : { key: t.key }) };
        const expected = new Set([redirect ? 302 : 200]);
        // Clicks left unshipped by an earlier measurement (either size: they share the cores and
        // the PostgreSQL server) would otherwise be written during this one.
        await waitSpoolsDrained([targets.small.base, targets.large.base], drainTimeoutMs);
        await runLoad(tool, { ...spec, duration: 2 }, expected);
        const cpu0 = cpuSeconds(t.pid);
        const started = performance.now();
        const sessions = await sampleConnections(t.url, () => runLoad(tool, spec, expected));
        const r = sessions.result;
        const serverCpu = (cpuSeconds(t.pid) - cpu0) / ((performance.now() - started) / 1000);
        // How long the spool took to ship this measurement's clicks after it: the ingest cost at this size.
        const drainS = await waitSpoolsDrained([t.base], drainTimeoutMs);
        samples[scenario]![name].push({ ...r, round, rssMb: rssMb(t.pid), serverCpu, pgConnections: sessions.max, drainS });
        log(`${scenario} ${name} round ${round}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, unexpected ${r.unexpected}, errors ${r.errors}, srv cpu ${serverCpu.toFixed(2)}, pg connections ≤ ${sessions.max}, clicks drained in ${drainS.toFixed(1)} s`);
        if (r.unexpected > 0 || r.errors > 0) throw new Error(`${scenario} on ${name}: ${r.unexpected} unexpected statuses, ${r.errors} errors`);
      }
    }
  }
  out.samples = samples;
  out.loadAfter = (await Bun.file("/proc/loadavg").text()).trim();

  const rows = SCENARIOS.map((scenario) => {
    const s = samples[scenario]!;
    const p99 = (n: SizeName) => s[n].map((x) => x.p99Ms);
    const perRound = s.small.map((x, i) => s.large[i]!.p99Ms / x.p99Ms);
    return {
      scenario,
      smallP99: p99("small"), largeP99: p99("large"),
      smallRps: median(s.small.map((x) => x.rps)), largeRps: median(s.large.map((x) => x.rps)),
      ratioOfMedians: median(p99("large")) / median(p99("small")),
      ratioRange: [Math.min(...perRound), Math.max(...perRound)],
      met: median(p99("large")) / median(p99("small")) <= 1.5,
    };
  });
  out.growth = rows;
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(x < 10 ? 2 : 0)).join(" / ");
  console.log(`| scenario | small p99 ms (rounds) | large p99 ms (rounds) | small req/s | large req/s | large/small p99 (medians) | per-round range | ≤ 1.5× |`);
  console.log(`|---|---|---|---|---|---|---|---|`);
  for (const r of rows) {
    console.log(`| ${r.scenario} | ${fmt(r.smallP99)} | ${fmt(r.largeP99)} | ${r.smallRps.toFixed(0)} | ${r.largeRps.toFixed(0)} | ${r.ratioOfMedians.toFixed(2)}× | ${r.ratioRange.map((x) => x.toFixed(2)).join("–")}× | ${r.met ? "met" : "NOT met"} |`);
  }
  await mkdir(dirname(jsonPath), { recursive: true });
  await Bun.write(jsonPath, JSON.stringify(out, null, 2));
  console.log(`JSON: ${jsonPath}`);
}

await runScript(main, log);
