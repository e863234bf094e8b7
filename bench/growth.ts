#!/usr/bin/env bun
/**
 * Growth, memory and import (issue 3 targets), one instance, autocannon, own stack:
 *   bun bench/growth.ts [--small 10000/100000] [--large 1000000/10000000] [--duration 10]
 *     [--memory-seconds 60] [--import-rows 1000000] [--json bench/results/growth.json]
 * p99 of redirect-spread, GET /events?url_id=… and GET /urls/:id/stats at both sizes; RSS after
 * spreading redirects over every large-size code; `linkfort import` vs `psql \copy` of one CSV.
 */
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import postgres from "postgres";
import { parseArgs } from "./generate.ts";
import { codeOf, fill, writeCodes } from "./lib/data.ts";
import { runLoad, type LoadSpec } from "./lib/load.ts";
import { installExitHooks, rssMb, runScript, type Child } from "./lib/procs.ts";
import * as stack from "./lib/stack.ts";

const args = parseArgs(process.argv.slice(2));
const size = (s: string) => { const [l, e] = s.split("/").map(Number); return { links: l!, events: e! }; };
const sizes = { small: size(args.get("small") ?? "10000/100000"), large: size(args.get("large") ?? "1000000/10000000") };
const duration = Number(args.get("duration") ?? 10);
const memorySeconds = Number(args.get("memory-seconds") ?? 60);
const importRows = Number(args.get("import-rows") ?? 1_000_000);
const jsonPath = args.get("json") ?? join(stack.ROOT, "bench/results/growth.json");
const log = (line: string) => process.stderr.write(`[growth] ${line}\n`);
installExitHooks();

async function main(): Promise<void> {
  const dir = await stack.workDir();
  const dbUrl = await stack.startPostgres(dir);
  const redisUrl = await stack.startRedis();
  const cmd = await stack.buildLinkfort(dir, args.has("source"));
  const env = { DATABASE_URL: dbUrl, REDIS_URL: redisUrl, ACCESS_LOG: "false", LOG_LEVEL: "warn", RATE_LIMITS: "false" };
  await stack.linkfortCli(cmd, ["migrate"], env);
  let key = "";
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  const out: Record<string, unknown> = { commit: (await Bun.$`git -C ${stack.ROOT} log --oneline -1`.quiet().text()).trim() };
  let instance: Child | undefined;

  for (const [name, s] of Object.entries(sizes)) {
    const t = performance.now();
    await fill(sql, { users: Math.max(1, Math.ceil(s.links / 100)), ...s }, log);
    // fill()'s TRUNCATE … CASCADE also empties api_keys (it references users): a new key each time.
    key = await stack.adminKey(cmd, env);
    const fillSeconds = (performance.now() - t) / 1000;
    const codes = join(dir, `codes-${name}.txt`);
    await writeCodes(codes, s.links);
    const ids = join(dir, `events-${name}.txt`);
    const statsPaths = join(dir, `stats-${name}.txt`);
    const pick = Array.from({ length: 2000 }, (_, i) => 1 + ((Math.imul(i + 1, 2654435761) >>> 0) % s.links));
    await Bun.write(ids, pick.map((id) => `/events?url_id=${id}`).join("\n") + "\n");
    await Bun.write(statsPaths, pick.map((id) => `/urls/${id}/stats`).join("\n") + "\n");
    const { children, ports } = await stack.startInstances(cmd, 1, env);
    instance = children[0]!;
    const base = `http://127.0.0.1:${ports[0]}`;
    const statsProbe = await fetch(`${base}/urls/1/stats`, { headers: { authorization: `Bearer ${key}` } });
    const statsBody = (await statsProbe.text()).slice(0, 300);
    const spec = (pathsFile: string, withKey: boolean): LoadSpec => ({ url: base, connections: 50, duration, pathsFile, createRatio: 0, users: 1, threads: 1, ...(withKey ? { key } : {}) });
    const result: Record<string, unknown> = { ...s, fillSeconds, statsProbe: { status: statsProbe.status, body: statsBody } };
    for (const [label, file, withKey, expected] of [["redirect-spread", codes, false, 302], ["events", ids, true, 200], ["stats", statsPaths, true, 200]] as const) {
      if (label === "stats" && statsProbe.status === 404) { result[label] = "not yet available"; continue; }
      await runLoad("autocannon", { ...spec(file, withKey), duration: 2 }, new Set([expected]));
      const r = await runLoad("autocannon", spec(file, withKey), new Set([expected]));
      result[label] = r;
      log(`${name} ${label}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, unexpected ${r.unexpected}`);
    }
    if (name === "large") {
      // Memory: uniform random codes over all links for memorySeconds; distinct ≈ N(1 − e^(−sent/N)).
      const r = await runLoad("wrk", { ...spec(codes, false), duration: memorySeconds }, new Set([302]));
      const distinct = Math.round(s.links * (1 - Math.exp(-r.total / s.links)));
      result.memory = { sent: r.total, distinctEstimate: distinct, rssMb: rssMb(instance.pid), boundMb: 256, rps: r.rps };
      log(`memory: ${r.total} redirects (~${distinct} distinct codes), RSS ${rssMb(instance.pid)} MB`);
    }
    await instance.stop();
    out[name] = result;
  }

  // Import: the same CSV into two fresh databases (users present, urls empty), timed end to end.
  const csv = join(dir, "urls.csv");
  const lines = ["id,user_id,short_code,original_url,title,is_active,created_at,updated_at"];
  for (let i = 1; i <= importRows; i++) lines.push(`${i},${(i % 100) + 1},${codeOf(i)},https://example.com/import/${i},import ${i},True,2025-01-01 00:00:00,2025-01-01 00:00:00`);
  await Bun.write(csv, lines.join("\n") + "\n");
  const timings: Record<string, number> = {};
  for (const how of ["linkfort", "psql"] as const) {
    await sql.unsafe("truncate events, urls, users restart identity cascade");
    await fill(sql, { users: 100, links: 0, events: 0 });
    const t = performance.now();
    if (how === "linkfort") await stack.linkfortCli(cmd, ["import", csv], env);
    else await Bun.$`psql ${dbUrl} -v ON_ERROR_STOP=1 -c ${`\\copy urls (id, user_id, short_code, original_url, title, is_active, created_at, updated_at) from '${csv}' with (format csv, header true)`}`.quiet();
    timings[how] = (performance.now() - t) / 1000;
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from urls`;
    log(`import ${how}: ${importRows} rows in ${timings[how]!.toFixed(1)} s (${row!.n} in table)`);
  }
  out.import = { rows: importRows, ...timings, ratio: timings.psql! / timings.linkfort! };
  await sql.end();
  await mkdir(dirname(jsonPath), { recursive: true });
  await Bun.write(jsonPath, JSON.stringify(out, null, 2));
  console.log(JSON.stringify(out, null, 2));
}

await runScript(main, log);
