/**
 * PostgreSQL for the data-size benchmarks (growth, memory, import): one server holding a database
 * per dataset, migrated by the linkfort binary and filled by bench/lib/data.ts. With `--pg-dir`
 * the server's files persist and a database already holding the asked sizes is reused, so the
 * ten-minute 1M/10M fill happens once; otherwise everything lives in the run's temp dir.
 */
import { chmod, mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { ensureDatabase, startEmbeddedPostgres } from "../../service/src/lib/embedded-postgres.ts";
import { fill, filled, resetClicks, type Filled, type Sizes } from "./data.ts";
import { freePort, onCleanup } from "./procs.ts";
import * as stack from "./stack.ts";

export interface Cluster {
  /** Creates `name` if needed and returns its URL. */
  database(name: string): Promise<string>;
}

/**
 * BENCH_PG_ADMIN_URL (an existing server, used as it is configured), or embedded PostgreSQL in
 * `pgDir` (kept) or under `workDir` (deleted with it), run with the quick start's settings
 * (QUICK_START_SETTINGS) and `settings` on top, e.g. shared_buffers=2GB.
 */
export async function startCluster(workDir: string, pgDir: string | undefined, settings: Record<string, string> = {}): Promise<Cluster> {
  const external = process.env.BENCH_PG_ADMIN_URL;
  if (external) {
    return {
      async database(name) {
        await ensureDatabase(external, name);
        const u = new URL(external);
        u.pathname = `/${name}`;
        return u.toString();
      },
    };
  }
  const dir = pgDir ? resolve(pgDir) : join(workDir, "pg");
  // As root, PostgreSQL runs as the `postgres` user, which must reach its data dir.
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  const port = await freePort();
  // Never ephemeral: the files are kept for --pg-dir (the work dir is deleted at the end anyway).
  const pg = await startEmbeddedPostgres({ dir: join(dir, "data"), port, ephemeral: false, settings });
  onCleanup(() => pg.stop());
  return {
    async database(name) {
      await ensureDatabase(pg.adminUrl, name);
      return pg.urlFor(name);
    },
  };
}

/** `name=value,name=value` (the --pg-settings flag) as a record. */
export function parseSettings(list: string | undefined): Record<string, string> {
  return Object.fromEntries((list ?? "").split(",").filter(Boolean).map((kv) => {
    const eq = kv.indexOf("=");
    if (eq < 1) throw new Error(`--pg-settings wants name=value pairs, not ${kv}`);
    return [kv.slice(0, eq).trim(), kv.slice(eq + 1).trim()];
  }));
}

/**
 * A migrated database named `name` holding `sizes`: filled now, unless a finished fill of the
 * same sizes is there, whose benchmark clicks are then taken out again. Also an admin key for it.
 */
export async function dataset(cluster: Cluster, cmd: string[], name: string, sizes: Sizes, log: (line: string) => void): Promise<{ url: string; key: string; fillSeconds: number; fill: Filled }> {
  const url = await cluster.database(name);
  const env = { DATABASE_URL: url, LOG_LEVEL: "warn" };
  await stack.linkfortCli(cmd, ["migrate"], env);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  let fillSeconds = 0;
  let done: Filled | undefined;
  try {
    done = await filled(sql);
    if (done && done.users === sizes.users && done.links === sizes.links && done.events === sizes.events) {
      const removed = await resetClicks(sql, done);
      log(`${name}: reusing the ${done.day} fill of ${sizes.links} links / ${sizes.events} events (${removed} benchmark clicks taken out)`);
    } else {
      const t = performance.now();
      await fill(sql, sizes, (line) => log(`${name}: ${line}`));
      fillSeconds = (performance.now() - t) / 1000;
      log(`${name}: filled in ${fillSeconds.toFixed(1)} s`);
      done = await filled(sql);
    }
  } finally {
    await sql.end();
  }
  return { url, key: await stack.adminKey(cmd, env), fillSeconds, fill: done! };
}
