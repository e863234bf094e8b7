#!/usr/bin/env bun
/**
 * Memory target (docs/PERFORMANCE.md): an instance's RSS stays under a bound (default 256 MB) after
 * redirecting 1M distinct codes. One instance (Redis on for the shared cache tier, clicks through
 * its spool on disk, as in production) gets every code of the dataset exactly once, in order, from
 * a Bun client with a fixed number of connections, while RSS is sampled every second. With several
 * --cache-entries values it runs once per value on a fresh instance, which gives the LRU's cost
 * per entry (the slope of final RSS against entries).
 */
import { mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parseArgs } from "./generate.ts";
import { codeOf } from "./lib/data.ts";
import { dataset, parseSettings, startCluster } from "./lib/databases.ts";
import { installExitHooks, onCleanup, rssMb, runScript } from "./lib/procs.ts";
import { waitSpoolsDrained } from "./lib/spool.ts";
import * as stack from "./lib/stack.ts";

const HELP = `bun bench/memory.ts [options]
  --links N             links in the dataset (default 1000000)
  --codes N             distinct codes redirected, each once: 1..N (default: every link)
  --cache-entries LIST  CACHE_MAX_ENTRIES per run, comma-separated (default 100000: the service default)
  --connections N       concurrent client connections (default 50)
  --bound MB            RSS bound the runs are judged against (default 256)
  --smol                run the instance with \`bun --smol\` (source runs only: implies --source)
  --env K=V[,K=V]       more environment for the instance
  --pg-settings LIST    PostgreSQL settings, e.g. shared_buffers=2GB,max_wal_size=8GB on top of the quick start's (QUICK_START_SETTINGS in service/src/lib/embedded-postgres.ts)
  --pg-dir DIR          keep PostgreSQL's files in DIR and reuse the dataset
  --source              run the service from source instead of the compiled binary
  --drain-timeout S     longest wait for the click spool to be shipped after the redirects (default 300)
  --json FILE           result file (default bench/results/memory.json)`;

const args = parseArgs(process.argv.slice(2));
if (args.has("help")) { console.log(HELP); process.exit(0); }
const links = Number(args.get("links") ?? 1_000_000);
const codes = Math.min(links, Number(args.get("codes") ?? links));
const entriesList = (args.get("cache-entries") ?? "100000").split(",").map(Number);
const connections = Number(args.get("connections") ?? 50);
const boundMb = Number(args.get("bound") ?? 256);
const smol = args.has("smol");
const extraEnv = Object.fromEntries((args.get("env") ?? "").split(",").filter(Boolean).map((kv) => kv.split("=", 2) as [string, string]));
const jsonPath = args.get("json") ?? join(stack.ROOT, "bench/results/memory.json");
const drainTimeoutMs = Number(args.get("drain-timeout") ?? 300) * 1000;
const log = (line: string) => process.stderr.write(`[memory] ${line}\n`);
installExitHooks();

/** Sends GET /<code> for codes 1..n, each once, over `connections` concurrent loops. */
async function redirectAll(base: string, n: number): Promise<{ ok: number; bad: number; seconds: number }> {
  let next = 1;
  let ok = 0;
  let bad = 0;
  const started = performance.now();
  const loop = async () => {
    for (let i = next++; i <= n; i = next++) {
      const res = await fetch(`${base}/${codeOf(i)}`, { redirect: "manual" }).catch(() => undefined);
      if (res?.status === 302) ok++;
      else bad++;
      await res?.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  return { ok, bad, seconds: (performance.now() - started) / 1000 };
}

/** Peak RSS the kernel saw for the process (VmHWM), in MB. */
async function peakMb(pid: number): Promise<number> {
  const kb = /VmHWM:\s+(\d+)/.exec(await Bun.file(`/proc/${pid}/status`).text())?.[1];
  return kb ? Math.round(Number(kb) / 102.4) / 10 : NaN;
}

async function metric(base: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(" ")[1]) : undefined;
}

async function main(): Promise<void> {
  const dir = await stack.workDir();
  onCleanup(() => rm(dir, { recursive: true, force: true })); // registered first, so it runs last
  const cluster = await startCluster(dir, args.get("pg-dir"), parseSettings(args.get("pg-settings")));
  const cmd = await stack.buildLinkfort(dir, args.has("source") || smol);
  const command = smol ? [cmd[0]!, "--smol", ...cmd.slice(1)] : cmd;
  const data = await dataset(cluster, cmd, "linkfort_memory", { users: Math.max(1, Math.ceil(links / 100)), links, events: 0 }, log);
  const runs = [];
  for (const entries of entriesList) {
    const redisUrl = await stack.startRedis();
    const env = { DATABASE_URL: data.url, REDIS_URL: redisUrl, ACCESS_LOG: "false", LOG_LEVEL: "warn", RATE_LIMITS: "false", CACHE_MAX_ENTRIES: String(entries), ...extraEnv };
    const { children, ports } = await stack.startInstances(command, 1, env);
    const instance = children[0]!;
    const base = `http://127.0.0.1:${ports[0]}`;
    const startMb = rssMb(instance.pid);
    const samples: number[] = [];
    const timer = setInterval(() => samples.push(rssMb(instance.pid)), 1000);
    const sent = await redirectAll(base, codes);
    clearInterval(timer);
    // Let the shipper send the spool's backlog to PostgreSQL, then read the settled size.
    const drainS = await waitSpoolsDrained([base], drainTimeoutMs);
    const run = {
      cacheEntries: entries, ...sent, rps: Math.round(sent.ok / sent.seconds), drainS,
      startMb, peakMb: await peakMb(instance.pid), finalMb: rssMb(instance.pid), boundMb,
      lruEntries: await metric(base, "linkfort_cache_entries"),
      heapUsedMb: ((await metric(base, "linkfort_nodejs_heap_size_used_bytes")) ?? NaN) / 1048576,
      samplesMb: samples,
    };
    runs.push(run);
    log(`CACHE_MAX_ENTRIES=${entries}: ${sent.ok} redirects (${sent.bad} not 302) in ${sent.seconds.toFixed(0)} s (${run.rps}/s), spool shipped ${drainS.toFixed(1)} s later; RSS start ${startMb} MB, peak ${run.peakMb} MB, final ${run.finalMb} MB (bound ${boundMb}); LRU ${run.lruEntries} entries, JS heap used ${run.heapUsedMb.toFixed(1)} MB`);
    await instance.stop();
  }
  const out: Record<string, unknown> = {
    commit: (await Bun.$`git -C ${stack.ROOT} log --oneline -1`.quiet().text()).trim(),
    load: (await Bun.file("/proc/loadavg").text()).trim(), links, codes, smol, extraEnv, runs,
  };
  if (runs.length >= 2) {
    // Least-squares slope of final RSS over entries: what one more cached code costs.
    const xs = runs.map((r) => r.cacheEntries);
    const ys = runs.map((r) => r.finalMb * 1048576);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    const slope = xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
    out.bytesPerEntry = Math.round(slope);
    log(`≈ ${Math.round(slope)} bytes of RSS per LRU entry`);
  }
  console.log("| CACHE_MAX_ENTRIES | distinct codes | req/s | RSS start MB | peak MB | final MB | bound MB | under bound |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of runs) console.log(`| ${r.cacheEntries} | ${r.ok} | ${r.rps} | ${r.startMb} | ${r.peakMb} | ${r.finalMb} | ${r.boundMb} | ${r.peakMb < r.boundMb ? "yes" : "NO"} |`);
  await mkdir(dirname(jsonPath), { recursive: true });
  await Bun.write(jsonPath, JSON.stringify(out, null, 2));
  console.log(`JSON: ${jsonPath}`);
}

await runScript(main, log);
