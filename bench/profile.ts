#!/usr/bin/env bun
/**
 * Where one instance's time goes: a bare Bun.serve baseline and ONE linkfort instance (from
 * source, so Bun's profiler can name functions), each under wrk with the same scenario, on an
 * own stack (embedded PostgreSQL, redis-server). Runs every --env variant in turn against the
 * same data, so the rows compare settings in one run:
 *
 *   bun bench/profile.ts [--scenario redirect-hot] [--duration 5] [--warmup 2] [--connections 50]
 *     [--links 10000] [--redis on|off] [--variants "CLICKS=off;ACCESS_LOG=true"] [--rounds 1]
 *     [--others 0] [--cpu-prof DIR] [--perf DIR]
 *
 * Every variant starts from ACCESS_LOG=false LOG_LEVEL=warn RATE_LIMITS=false; a variant is
 * K=V pairs joined by commas, variants are joined by ";" ("" is the default settings).
 * TREE=DIR in a variant runs the service from another checkout (e.g. `git worktree` of a commit).
 * --cpu-prof writes a Markdown CPU profile per variant (Bun's --cpu-prof-md) into DIR; --perf DIR
 * records each measured run with `perf record -e cpu-clock -g` (native frames; JIT code is unnamed).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { parseArgs } from "./generate.ts";
import { codeOf, fill, writeCodes } from "./lib/data.ts";
import { runLoad, type LoadSpec } from "./lib/load.ts";
import { cpuSeconds, installExitHooks, runScript, type Child } from "./lib/procs.ts";
import { parseScenarios, shapeOf } from "./lib/scenarios.ts";
import * as stack from "./lib/stack.ts";
import { waitSpoolsDrained } from "./lib/spool.ts";

const args = parseArgs(process.argv.slice(2));
if (args.has("help")) {
  console.log("usage: bun bench/profile.ts [--scenario redirect-hot] [--duration 5] [--warmup 2] [--connections 50]\n" +
    "  [--links 10000] [--redis on|off] [--variants \"K=V,K=V;K=V\"] [--rounds 1] [--others 0] [--cpu-prof DIR] [--perf DIR]");
  process.exit(0);
}
const num = (k: string, d: number) => (args.has(k) ? Number(args.get(k)) : d);
const duration = num("duration", 5);
const warmup = num("warmup", 2);
const connections = num("connections", 50);
const links = num("links", 10_000);
const rounds = num("rounds", 1);
// Idle instances beside the measured one, sharing its database and Redis as in production: their
// listeners and heartbeat fences run, and they would adopt the measured one's spool if it stopped.
const others = num("others", 0);
const scenario = parseScenarios(args.get("scenario") ?? "redirect-hot")[0]!;
const useRedis = (args.get("redis") ?? "on") !== "off";
const profDir = args.get("cpu-prof");
const perfDir = args.get("perf");
const variants = (args.get("variants") ?? "").split(";").map((v) => v.trim());
const envOf = (variant: string) => Object.fromEntries(variant.split(",").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));

/** CPU seconds every core has spent outside idle and iowait so far (/proc/stat, USER_HZ 100). */
function machineBusySeconds(): number {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return (total - fields[3]! - fields[4]!) / 100;
}

/** PIDs of this run's PostgreSQL (the postmaster, found by its data dir, and its children) and redis-server. */
function storeProcesses(dir: string, redisPort: string | undefined): { pg: number[]; redis: number[] } {
  const procs = readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map((p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      return { pid: Number(p), ppid: Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]), cmd: readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ") };
    } catch {
      return undefined;
    }
  }).filter((p) => p !== undefined);
  const postmasters = new Set(procs.filter((p) => p.cmd.includes(dir) && p.cmd.includes("postgres")).map((p) => p.pid));
  return {
    pg: procs.filter((p) => postmasters.has(p.pid) || postmasters.has(p.ppid)).map((p) => p.pid),
    redis: redisPort ? procs.filter((p) => p.cmd.includes("redis-server") && (p.cmd.includes(`:${redisPort}`) || p.cmd.includes(`--port ${redisPort}`))).map((p) => p.pid) : [],
  };
}

const sumCpu = (pids: number[]) => pids.reduce((sum, pid) => sum + (cpuSeconds(pid) || 0), 0);

/** Calls per Redis command so far (INFO commandstats), to see how many clicks share a round trip. */
async function commandCalls(url: string): Promise<Map<string, number>> {
  const port = new URL(url).port;
  const text = await Bun.$`redis-cli -p ${port} info commandstats`.quiet().text();
  return new Map([...text.matchAll(/cmdstat_(\w+):calls=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
}

installExitHooks();
const log = (line: string) => process.stderr.write(`[profile] ${line}\n`);

async function main(): Promise<void> {
  const dir = await stack.workDir();
  const dbUrl = await stack.startPostgres(dir);
  const redisUrl = useRedis ? await stack.startRedis() : undefined;
  const source = [process.execPath, join(stack.ROOT, "service/src/main.ts")];
  const base: Record<string, string> = {
    DATABASE_URL: dbUrl, ACCESS_LOG: "false", LOG_LEVEL: "warn", RATE_LIMITS: "false", SHUTDOWN_DRAIN_MS: "0", ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
  };
  await stack.linkfortCli(source, ["migrate"], base);
  const users = Math.max(1, Math.ceil(links / 100));
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  await fill(sql, { users, links, events: 0 }, log);
  // redirect-hot-options' link (bench/lib/scenarios.ts), as bench/run.ts sets it.
  await sql`update urls set expires_at = now() + interval '10 years' where short_code = ${codeOf(2)}`;
  await sql.end();
  const codesFile = join(dir, "codes.txt");
  await writeCodes(codesFile, links);
  const { shape, expected } = shapeOf(scenario, { codesFile, hotCode: codeOf(1), optionsCode: codeOf(2), key: "", users });

  const redisPort = redisUrl ? new URL(redisUrl).port : undefined;
  const storePids = () => storeProcesses(dir, redisPort);
  const measure = async (label: string, url: string, child: Child, spools: string[]) => {
    const spec: LoadSpec = { url, connections, duration, users, threads: 1, ...shape };
    if (warmup > 0) await runLoad("wrk", { ...spec, duration: warmup }, expected);
    const cpu0 = cpuSeconds(child.pid);
    const pg0 = sumCpu(storePids().pg);
    const redis0 = sumCpu(storePids().redis);
    const busy0 = machineBusySeconds();
    const t0 = performance.now();
    // perf samples CPU time (what the JSC sampler, which counts wall-clock stacks, cannot tell apart).
    const perf = perfDir ? Bun.spawn(["perf", "record", "-q", "-e", "cpu-clock", "-F", "999", "-g", "-p", String(child.pid), "-o", join(perfDir, `${label.replace(/\W+/g, "_")}.data`), "--", "sleep", String(duration)], { stdout: "ignore", stderr: "inherit" }) : undefined;
    const r = await runLoad("wrk", spec, expected);
    await perf?.exited;
    const wall = (performance.now() - t0) / 1000;
    const srvCores = (cpuSeconds(child.pid) - cpu0) / wall;
    const machine = (machineBusySeconds() - busy0) / wall;
    // The shipper may lag during the run: count its catch-up too, so a click's whole cost lands
    // on the variant that made it (and none on the next one).
    const drainSeconds = await waitSpoolsDrained(spools);
    // Per request, CPU counts until drained; cores are over the run alone.
    const srvCpu = cpuSeconds(child.pid) - cpu0;
    const pgCpu = sumCpu(storePids().pg) - pg0;
    const redisCpu = sumCpu(storePids().redis) - redis0;
    const perRequest = (seconds: number) => ((seconds * 1e6) / r.total).toFixed(1);
    console.log(`| ${label} | ${r.rps.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.unexpected} | ${r.errors} | ${(r.toolCpu * 100).toFixed(0)}% | ` +
      `${srvCores.toFixed(2)} | ${perRequest(srvCpu)} | ${perRequest(redisCpu)} | ${perRequest(pgCpu)} | ${machine.toFixed(2)} | ${drainSeconds.toFixed(1)} |`);
  };

  if (others > 0) await stack.startInstances(source, others, base);
  console.log(`\n${scenario}, wrk -t1 -c${connections} ${duration} s, redis ${redisUrl ? "on" : "off"}, ${links} links\n`);
  console.log("| variant | req/s | p50 ms | p99 ms | unexpected | errors | wrk cpu | srv cores | srv µs/req | redis µs/req | pg µs/req | machine cores | drain s |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (let round = 0; round < rounds; round++) {
    const bl = await stack.startBaselines(1);
    await measure("bare Bun.serve", `http://127.0.0.1:${bl.ports[0]}`, bl.children[0]!, []);
    await bl.children[0]!.stop();
    for (const [i, variant] of variants.entries()) {
      const prof = profDir ? ["--cpu-prof-md", "--cpu-prof-dir", profDir, "--cpu-prof-name", `variant-${i}-round-${round}.md`] : [];
      // TREE=DIR in a variant runs that checkout's source instead (A/B against another commit).
      const { TREE: tree, ...variantEnv } = envOf(variant);
      const cmd = [process.execPath, ...prof, join(tree ?? stack.ROOT, "service/src/main.ts")];
      const lf = await stack.startInstances(cmd, 1, { ...base, ...variantEnv });
      const before = redisUrl ? await commandCalls(redisUrl) : undefined;
      await measure(variant || "(defaults)", `http://127.0.0.1:${lf.ports[0]}`, lf.children[0]!, [`http://127.0.0.1:${lf.ports[0]}`]);
      if (before && redisUrl) {
        const after = await commandCalls(redisUrl);
        const moved = [...after].filter(([c, n]) => n !== (before.get(c) ?? 0)).map(([c, n]) => `${c} ${n - (before.get(c) ?? 0)}`);
        log(`redis commands during warm-up + run: ${moved.join(", ")}`);
      }
      // SIGTERM: the profile is written as the process exits.
      await lf.children[0]!.stop();
    }
  }
}

await runScript(main, log);
