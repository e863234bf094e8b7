#!/usr/bin/env bun
/**
 * The benchmark harness: starts its own stack on random loopback ports, runs the scenarios
 * against one instance and against Caddy in front of three, with the bare-Bun baseline in the
 * same run and with the same tool, prints one table and writes it as JSON. See docs/PERFORMANCE.md.
 * --clicks-off adds a fourth instance with CLICKS=off (target direct-clicks-off) for the redirect
 * scenarios, so what recording clicks costs is measured in the same run. Each measurement starts
 * once every instance has shipped its click spool to PostgreSQL (their /health `click_spool`);
 * the `drain s` column is how long that took after it (--drain-timeout, default 300 s, fails the
 * run instead of waiting for ever). --redis off runs without the shared cache tier.
 * redirect-hot-options is redirect-hot on a link with expires_at set (far ahead) and a browser's
 * user agent on every request (issue #18); redirect-hot-expiry and redirect-hot-agent are each half
 * alone. Asked for with redirect-hot, these run right after it on each target and print their ratio to it.
 * --ceilings (default create,create-batched,clicks; none to skip) runs pgbench with the write
 * paths' own SQL on the same PostgreSQL (lib/pgbench.ts): the create ceilings (one statement per
 * create; the coalesced batch statement) right before each tool's create rows, which the
 * "ceiling" lines divide by; the click-batch ceiling (--click-batch clicks per batch, default
 * 100) once per round.
 *
 *   bun bench/run.ts [--scenarios a,b] [--duration 10] [--warmup 2] [--connections 50]
 *     [--tool autocannon|wrk|both] [--threads 1] [--links 300000] [--redis on|off] [--source]
 *     [--clicks-off] [--rounds 1] [--drain-timeout 300] [--env K=V,K=V] [--json bench/results/run.json]
 *     [--ceilings create,create-batched,clicks|none] [--click-batch 100]
 */
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import postgres from "postgres";
import { parseArgs } from "./generate.ts";
import { fill, codeOf, writeCodes } from "./lib/data.ts";
import { runLoad, type LoadSpec, type Tool } from "./lib/load.ts";
import { cpuSeconds, installExitHooks, rssMb, runScript } from "./lib/procs.ts";
import { variantLines, ratioLines, ratioSpread, ratios, table, unknownCodeLines, type Row } from "./lib/report.ts";
import { parseScenarios, shapeOf, type Scenario } from "./lib/scenarios.ts";
import * as stack from "./lib/stack.ts";
import { waitSpoolsDrained } from "./lib/spool.ts";
import { CEILINGS, ceilingLine, pgbenchBinary, runPgbench, type Ceiling } from "./lib/pgbench.ts";
import { CREATE_BATCH_MAX, CREATES_IN_FLIGHT } from "../service/src/urls/service.ts";

const args = parseArgs(process.argv.slice(2));
if (args.has("help")) {
  // The usage is the header comment above; a bench run takes minutes, so --help must not start one.
  console.log("usage: bun bench/run.ts [--scenarios a,b] [--duration 10] [--warmup 2] [--connections 50]\n" +
    "  [--tool autocannon|wrk|both] [--threads 1] [--links 300000] [--redis on|off] [--source]\n  [--clicks-off] [--rounds 1] [--drain-timeout 300] [--env K=V,K=V] [--json bench/results/run.json]\n" +
    "  [--ceilings create,create-batched,clicks|none] [--click-batch 100]\n" +
    "Each measurement waits until every instance's click spool is shipped (at most --drain-timeout seconds).");
  process.exit(0);
}
const num = (k: string, d: number) => (args.has(k) ? Number(args.get(k)) : d);
const duration = num("duration", 10);
const warmup = num("warmup", 2);
const connections = num("connections", 50);
const threads = num("threads", 1);
const links = num("links", 300_000);
const users = Math.max(1, Math.ceil(links / 100));
const tools: Tool[] = args.get("tool") === "both" ? ["autocannon", "wrk"] : [(args.get("tool") ?? "autocannon") as Tool];
const scenarios = parseScenarios(args.get("scenarios"));
const useRedis = (args.get("redis") ?? "on") !== "off";
const clicksOff = args.has("clicks-off");
const rounds = num("rounds", 1);
const drainTimeoutMs = num("drain-timeout", 300) * 1000;
const ceilings = (args.get("ceilings") ?? CEILINGS.join(",")).split(",").filter((c) => c && c !== "none").map((c) => {
  if (!(CEILINGS as readonly string[]).includes(c)) throw new Error(`unknown ceiling ${c} (${CEILINGS.join(", ")}, none)`);
  return c as Ceiling;
});
const clickBatch = num("click-batch", 100);
// The 1/5/15-minute load averages at the start: the machine is shared, so say how busy it was.
const loadBefore = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const jsonPath = args.get("json") ?? join(stack.ROOT, `bench/results/run-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
const extraEnv = Object.fromEntries((args.get("env") ?? "").split(",").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));

installExitHooks();
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

async function main(): Promise<void> {
  // Before anything starts: a missing pgbench fails in a second, naming its package.
  if (ceilings.length > 0) pgbenchBinary();
  const dir = await stack.workDir();
  const dbUrl = await stack.startPostgres(dir);
  const redisUrl = useRedis ? await stack.startRedis() : undefined;
  log(`postgres ${dbUrl.replace(/:[^:@]*@/, ":…@")}${redisUrl ? `, redis ${redisUrl}` : ", no redis"}`);
  const cmd = await stack.buildLinkfort(dir, args.has("source"));
  const env: Record<string, string> = {
    DATABASE_URL: dbUrl, ACCESS_LOG: "false", LOG_LEVEL: "warn", RATE_LIMITS: "false",
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}), ...extraEnv,
  };
  await stack.linkfortCli(cmd, ["migrate"], env);
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  await fill(sql, { users, links, events: 0 }, log);
  // redirect-hot-options' link (issue #18): link 2, expiring long after any run.
  await sql`update urls set expires_at = now() + interval '10 years' where short_code = ${codeOf(2)}`;
  await sql.end();
  const codesFile = join(dir, "codes.txt");
  await writeCodes(codesFile, links);
  const key = await stack.adminKey(cmd, env);

  const lf = await stack.startInstances(cmd, 3, env);
  const lfCaddy = await stack.startCaddy(dir, "linkfort", lf.ports);
  const quiet = clicksOff ? await stack.startInstances(cmd, 1, { ...env, CLICKS: "off" }) : undefined;
  const bl = await stack.startBaselines(3);
  const blCaddy = await stack.startCaddy(dir, "baseline", bl.ports);
  const lfPids = lf.children.map((c) => c.pid);
  // Every instance's spool: one measurement's clicks must not be shipped during the next.
  const spools = [...lf.ports, ...(quiet?.ports ?? [])].map((p) => `http://127.0.0.1:${p}`);
  const blPids = bl.children.map((c) => c.pid);
  const targets: stack.Target[] = [
    { name: "direct", base: `http://127.0.0.1:${lf.ports[0]}`, pids: [lfPids[0]!] },
    { name: "caddy", base: `http://127.0.0.1:${lfCaddy.port}`, pids: lfPids },
    ...(quiet ? [{ name: "direct-clicks-off", base: `http://127.0.0.1:${quiet.ports[0]}`, pids: [quiet.children[0]!.pid] }] : []),
  ];
  const baselines: stack.Target[] = [
    { name: "baseline-direct", base: `http://127.0.0.1:${bl.ports[0]}`, pids: [blPids[0]!] },
    { name: "baseline-caddy", base: `http://127.0.0.1:${blCaddy.port}`, pids: blPids },
  ];
  const ctx = { codesFile, hotCode: codeOf(1), optionsCode: codeOf(2), key, users };
  const rows: Row[] = [];

  const measure = async (tool: Tool, scenario: Scenario, target: stack.Target, label: string, round: number) => {
    const { shape, expected } = shapeOf(scenario, ctx);
    const spec: LoadSpec = { url: target.base, connections, duration, users, threads, ...shape };
    await waitSpoolsDrained(spools, drainTimeoutMs);
    if (warmup > 0) await runLoad(tool, { ...spec, duration: warmup }, expected);
    const serverPids = label.startsWith("caddy") || label === "baseline-caddy" ? [...target.pids, label.startsWith("baseline") ? blCaddy.child.pid : lfCaddy.child.pid] : target.pids;
    const cpuBefore = serverPids.reduce((s, p) => s + cpuSeconds(p), 0);
    const t0 = performance.now();
    const result = await runLoad(tool, spec, expected);
    const serverCpu = (serverPids.reduce((s, p) => s + cpuSeconds(p), 0) - cpuBefore) / ((performance.now() - t0) / 1000);
    const drainS = await waitSpoolsDrained(spools, drainTimeoutMs);
    const row: Row = { scenario, target: label, tool, round, ...result, rssMb: target.pids.map(rssMb), serverCpu, drainS };
    log(`${tool} ${scenario} ${label}: ${result.rps.toFixed(0)} req/s, p99 ${result.p99Ms.toFixed(2)} ms, tool cpu ${(result.toolCpu * 100).toFixed(0)}%`);
    rows.push(row);
  };

  const ceilingLines: string[] = [];
  const ceiling = async (which: Ceiling, round: number, before: string): Promise<number> => {
    await waitSpoolsDrained(spools, drainTimeoutMs);
    // The batch a create statement carries when every connection waits on one instance's slots.
    const createBatch = Math.min(CREATE_BATCH_MAX, Math.ceil(connections / CREATES_IN_FLIGHT));
    const spec = {
      databaseUrl: dbUrl, clients: connections, threads: Math.max(threads, 2), duration, links, users, key, batch: clickBatch,
      createClients: CREATES_IN_FLIGHT, createBatch,
    };
    if (warmup > 0) await runPgbench(which, { ...spec, duration: warmup });
    const r = await runPgbench(which, spec);
    // Rows per second: creates, links (create-batched: batches × links each) or click batches.
    const perTx = which === "create-batched" ? createBatch : 1;
    const scenario = which === "clicks" ? `pgbench-clicks×${clickBatch}` : which === "create" ? "pgbench-create" : `pgbench-create×${createBatch}`;
    log(`pgbench ${which} (${before}): ${r.tps.toFixed(0)} transactions/s, latency avg ${r.latencyAvgMs.toFixed(2)} ms, ${r.failed} failed`);
    rows.push({
      scenario, target: "postgres", tool: "pgbench", round, rps: r.tps * perTx, p50Ms: NaN, p99Ms: NaN, total: r.transactions,
      non23: r.failed, unexpected: r.failed, errors: 0, toolCpu: r.toolCpu, rssMb: [], serverCpu: NaN,
    });
    if (which === "clicks") ceilingLines.push(`round ${round} ceiling clicks: ${(r.tps * clickBatch).toFixed(0)} clicks/s (${r.tps.toFixed(0)} batches of ${clickBatch})`);
    return r.tps * perTx;
  };

  // Each ratio's two rows are measured back to back (this machine's load moves within seconds),
  // and --rounds repeats the whole sequence so the spread of each ratio shows.
  const byName = new Map([...baselines, ...targets].map((t) => [t.name, t]));
  const hotOrder = ["baseline-direct", "direct", "direct-clicks-off", "baseline-caddy", "caddy"];
  for (let round = 1; round <= rounds; round++) {
    if (ceilings.includes("clicks")) await ceiling("clicks", round, "round start");
    for (const tool of tools) {
      // Every run measures the baselines, even when redirect-hot (which pairs them) is not asked for.
      if (!scenarios.includes("redirect-hot")) for (const b of baselines) await measure(tool, "redirect-hot", b, b.name, round);
      // redirect-hot's variants asked for with it run right after it on each target: one ratio, one moment's load.
      const variants = scenarios.includes("redirect-hot") ? scenarios.filter((s) => s.startsWith("redirect-hot-")) : [];
      for (const scenario of scenarios) {
        if (variants.includes(scenario)) continue;
        // Right before the create rows it divides, so both see the same machine load.
        const createCeilings: [string, number][] = [];
        for (const which of ["create", "create-batched"] as const) {
          if (scenario === "create" && ceilings.includes(which)) createCeilings.push([`pgbench-${which}`, await ceiling(which, round, `before ${tool} create`)]);
        }
        const names = scenario === "redirect-hot" ? hotOrder : targets.map((t) => t.name);
        for (const name of names) {
          const t = byName.get(name);
          if (t && (name !== "direct-clicks-off" || scenario.startsWith("redirect"))) await measure(tool, scenario, t, name, round);
          if (t && scenario === "redirect-hot" && !name.startsWith("baseline")) for (const v of variants) await measure(tool, v, t, name, round);
          const row = rows.at(-1);
          if (row?.scenario === "create" && row.target === name) {
            for (const [label, rate] of createCeilings) ceilingLines.push(`round ${round} ${ceilingLine(`${tool} ${name}`, row.rps, label, rate)}`);
          }
        }
      }
    }
  }

  const commit = (await Bun.$`git -C ${stack.ROOT} log --oneline -1`.quiet().nothrow().text()).trim();
  const dirty = (await Bun.$`git -C ${stack.ROOT} status --porcelain service`.quiet().nothrow().text()).trim().split("\n").filter(Boolean).length;
  const meta = {
    at: new Date().toISOString(), commit, dirtyServiceFiles: dirty, redis: Boolean(redisUrl), clicksOff, rounds, loadBefore, duration, warmup, connections, threads, links,
    binary: args.has("source") ? "source" : "compiled", env: { ...env, DATABASE_URL: "…", ...(redisUrl ? { REDIS_URL: "…" } : {}) },
  };
  const ratioList = Array.from({ length: rounds }, (_, i) => ratios(rows.filter((r) => r.round === i + 1)).map((x) => ({ ...x, round: i + 1 }))).flat();
  console.log(`\n${commit} (+${dirty} uncommitted files in service/), redis ${redisUrl ? "on" : "off"}, ${connections} connections, ${duration} s each, ${rounds} round(s), load ${loadBefore} before\n`);
  console.log(table(rows));
  console.log("\n" + ratioLines(ratioList));
  const variantRatios = variantLines(rows);
  if (variantRatios) console.log("\n" + variantRatios);
  const unknownCodes = unknownCodeLines(rows);
  if (unknownCodes) console.log("\n" + unknownCodes);
  if (ceilingLines.length > 0) console.log("\n" + ceilingLines.join("\n"));
  if (rounds > 1) console.log("\n" + ratioSpread(ratioList));
  await mkdir(dirname(jsonPath), { recursive: true });
  await Bun.write(jsonPath, JSON.stringify({ meta, rows, ratios: ratioList, ceilings: ceilingLines }, null, 2));
  console.log(`\nJSON: ${jsonPath}`);
}

await runScript(main, log);
