/**
 * The instance's lifecycle as load balancers see it: starting → ready → draining.
 * Readiness does not depend on PostgreSQL: with the database down, cached redirects still
 * work, and marking every instance unready would turn a partial outage into a total one.
 */
import type { Sql } from "../db/client.ts";
import type { Metrics } from "../metrics.ts";

export type Lifecycle = "starting" | "ready" | "draining";
export type Probe = "ok" | "down";

const DB_PROBE_TIMEOUT_MS = 1_000;
// /health may be polled by several tools; one probe a second is plenty.
const DB_PROBE_CACHE_MS = 1_000;

export function createHealth(opts: { sql: Sql; metrics: Metrics }) {
  let lifecycle: Lifecycle = "starting";
  const startedAt = Date.now();
  let lastProbe: { at: number; result: Promise<Probe> } | undefined;

  const probeDb = async (): Promise<Probe> => {
    const timeout = Bun.sleep(DB_PROBE_TIMEOUT_MS).then(() => "down" as const);
    const query = opts.sql`select 1`.then(() => "ok" as const, () => "down" as const);
    return Promise.race([query, timeout]);
  };

  opts.metrics.ready.set(0);
  return {
    get lifecycle(): Lifecycle { return lifecycle; },
    uptimeSeconds: () => Math.round((Date.now() - startedAt) / 1000),
    markReady() { lifecycle = "ready"; opts.metrics.ready.set(1); },
    startDraining() { lifecycle = "draining"; opts.metrics.ready.set(0); },
    db(): Promise<Probe> {
      const now = Date.now();
      if (!lastProbe || now - lastProbe.at > DB_PROBE_CACHE_MS) lastProbe = { at: now, result: probeDb() };
      return lastProbe.result;
    },
  };
}

export type Health = ReturnType<typeof createHealth>;
