#!/usr/bin/env bun
/**
 * What the database pool gauges (service/src/db/pool-metrics.ts) cost the queries they watch.
 * They add nothing per query: the pool's queue lengths are read when /metrics is scraped. This
 * checks it in one run: a redirect-shaped workload (one primary-key lookup per request, 50 in
 * flight, a pool of 10) alternates, in short back-to-back pairs, with and without a reader that
 * collects the two gauges every millisecond (a real scrape comes every 5 to 15 s), and prints the
 * median of the pairs' throughput ratios (short pairs: a shared machine's load drifts less within
 * one). Also the nanoseconds of one reading. On a shared machine only the ratio means anything.
 *
 *   bun bench/pool-gauges.ts [--seconds 1] [--rounds 20]   (DATABASE_URL: use that server)
 */
import { connect } from "../service/src/db/client.ts";
import { registerPoolMetrics } from "../service/src/db/pool-metrics.ts";
import { createMetrics } from "../service/src/metrics.ts";
import { parseArgs } from "./generate.ts";
import { installExitHooks, runScript } from "./lib/procs.ts";
import * as stack from "./lib/stack.ts";

const args = parseArgs(process.argv.slice(2));
const seconds = Number(args.get("seconds") ?? 1);
const rounds = Number(args.get("rounds") ?? 20);
const IN_FLIGHT = 50;
const ROWS = 10_000;

async function main(): Promise<void> {
  installExitHooks();
  const url = await stack.startPostgres(await stack.workDir());
  const { sql } = connect({ url, poolMax: 10, statementTimeoutMs: 5_000, applicationName: "linkfort-bench-pool" });
  try {
    await sql`create table if not exists bench_pool_links (id int primary key, target text not null)`;
    await sql`insert into bench_pool_links select i, 'https://example.com/' || i from generate_series(1, ${ROWS}) i on conflict do nothing`;
    const metrics = createMetrics();
    registerPoolMetrics(metrics, sql, "linkfort-bench-pool");
    const inUse = metrics.registry.getSingleMetric("linkfort_db_pool_in_use_connections")!;
    const waiting = metrics.registry.getSingleMetric("linkfort_db_pool_waiting_requests")!;
    const read = async () => { await inUse.get(); await waiting.get(); };

    /** Queries per second over `seconds`, 50 lookups in flight; `reading`: collect the gauges every ms meanwhile. */
    async function phase(reading: boolean): Promise<{ qps: number; readings: number }> {
      const until = performance.now() + seconds * 1000;
      let done = 0;
      let readings = 0;
      const reader = reading ? setInterval(() => { void read(); readings++; }, 1) : undefined;
      await Promise.all(Array.from({ length: IN_FLIGHT }, async (_, w) => {
        for (let i = w; performance.now() < until; i += IN_FLIGHT) {
          await sql`select target from bench_pool_links where id = ${(i % ROWS) + 1}`;
          done++;
        }
      }));
      clearInterval(reader);
      return { qps: done / seconds, readings };
    }

    await phase(false); // warm-up: connections open, statements prepared
    const ratios: number[] = [];
    for (let r = 1; r <= rounds; r++) {
      // Alternating order, so a machine that slows down during the run does not favour one side.
      const [a, b] = r % 2 ? [await phase(false), await phase(true)] : [await phase(true), await phase(false)].reverse() as [Awaited<ReturnType<typeof phase>>, Awaited<ReturnType<typeof phase>>];
      ratios.push(b.qps / a.qps);
      if (rounds <= 10) console.log(`round ${r}: without ${a.qps.toFixed(0)} q/s, with ${b.readings} readings ${b.qps.toFixed(0)} q/s, ratio ${(b.qps / a.qps).toFixed(3)}`);
    }
    const sorted = [...ratios].sort((x, y) => x - y);
    console.log(`load average ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}`);
    console.log(`median ratio with/without: ${sorted[Math.floor(sorted.length / 2)]!.toFixed(3)} (min ${sorted[0]!.toFixed(3)}, max ${sorted.at(-1)!.toFixed(3)})`);

    const n = 100_000;
    const start = Bun.nanoseconds();
    for (let i = 0; i < n; i++) await read();
    console.log(`one reading of both gauges: ${((Bun.nanoseconds() - start) / n).toFixed(0)} ns`);
    await sql`drop table bench_pool_links`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

await runScript(main, (line) => console.error(line));
