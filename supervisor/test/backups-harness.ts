/**
 * What the backup tests share: a seeded database of their own, a private BACKUP_DIR, the recording
 * Alerter (recording-alerter.ts), and helpers that plant real dumps under old names.
 */
import type { BackupsDeps } from "../src/backups/backups.ts";
import { copyFile, mkdtemp, readFile, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Papa from "papaparse";
import postgres from "postgres";
import { createLogger, type Logger } from "../../service/src/lib/logger.ts";
import { adminUrl, createDatabase, dropDatabase } from "../../service/test/pg.ts";
import { testSupervisorConfig, type SupervisorConfig } from "../src/config.ts";
import { createSupervisorMetrics, type SupervisorMetrics } from "../src/metrics.ts";
import { backupName, checksumLine, checksumPath, metaPath, readMeta } from "../src/backups/backup-files.ts";
import { recordingAlerter, type RecordingAlerter } from "./recording-alerter.ts";

/** Whether `key` was raised and a resolve of it came after its last raise (raised, then cleared). */
export function clearedAfterRaise(rec: RecordingAlerter, key: string): boolean {
  const lastRaise = rec.calls.findLastIndex((c) => c.kind === "raise" && c.key === key);
  return lastRaise >= 0 && rec.calls.slice(lastRaise).some((c) => c.kind === "resolve" && c.key === key);
}

export interface BackupRig {
  databaseName: string;
  databaseUrl: string;
  dir: string;
  config: SupervisorConfig;
  alerter: RecordingAlerter;
  metrics: SupervisorMetrics;
  logs: Record<string, unknown>[];
  logger: Logger;
  /** A fresh BACKUP_DIR (another "VM"), removed by close(). */
  newDir(): Promise<string>;
  close(): Promise<void>;
}

/** A migrated database with the seed rows and a private backup folder; `close()` removes both. */
export async function backupRig(overrides: Partial<SupervisorConfig> = {}): Promise<BackupRig> {
  const db = await createDatabase();
  await seed(db.url);
  const dirs: string[] = [];
  const newDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), "linkfort-backups-"));
    dirs.push(dir);
    return join(dir, "backups");
  };
  const dir = await newDir();
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger("debug", {}, (line) => logs.push(JSON.parse(line) as Record<string, unknown>));
  return {
    databaseName: db.name, databaseUrl: db.url, dir, logs, logger, newDir,
    config: testSupervisorConfig({ backupDir: dir, backupMinFreeMb: 1, ...overrides }),
    alerter: recordingAlerter(),
    metrics: createSupervisorMetrics(),
    async close() {
      await dropDatabase(db.name);
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    },
  };
}

const SEED_DIR = join(import.meta.dir, "../../service/seed-data");

async function csvRows(file: string): Promise<Record<string, string>[]> {
  const parsed = Papa.parse<Record<string, string>>(await readFile(join(SEED_DIR, file), "utf8"), { header: true, skipEmptyLines: true });
  return parsed.data;
}

/** Rows from service/seed-data in users, urls and events, plus a few in api_keys and retired_codes. */
export async function seed(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    for (const [table, file] of [["users", "users.csv"], ["urls", "urls.csv"], ["events", "events.csv"]] as const) {
      const rows = (await csvRows(file)).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === "" ? null : v])));
      for (let i = 0; i < rows.length; i += 500) await sql`insert into ${sql(table)} ${sql(rows.slice(i, i + 500))}`;
    }
    await sql`insert into api_keys (name, prefix, hash, scope, user_id)
      select 'key ' || g, 'lf_' || g, md5(g::text) || md5((g * 7)::text), 'user', g from generate_series(1, 5) g`;
    await sql`insert into retired_codes (code) select 'old' || g from generate_series(1, 3) g`;
    // Explicit ids from the CSVs: move the sequences past them, as the service's import does.
    for (const table of ["users", "urls", "events"]) {
      await sql`select setval(pg_get_serial_sequence(${table}, 'id'), (select max(id) from ${sql(table)}))`;
    }
  } finally {
    await sql.end();
  }
}

/** Exact rows per "schema.table" of the tables the service owns. */
export async function serviceCounts(url: string): Promise<Record<string, number>> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const out: Record<string, number> = {};
    for (const table of ["users", "urls", "api_keys", "retired_codes"]) {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from ${sql(table)}`;
      out[`public.${table}`] = row!.n;
    }
    // events is partitioned: its rows live, are dumped and are counted in its partitions.
    const partitions = await sql<{ name: string; n: number }[]>`select tableoid::regclass::text as name, count(*)::int as n from events group by 1`;
    for (const p of partitions) out[`public.${p.name}`] = p.n;
    return out;
  } finally {
    await sql.end();
  }
}

/** Runs SQL against a database and closes the connection. */
export async function withSql<T>(url: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end();
  }
}

/** Databases on the test server whose name starts with `prefix`. */
export async function databasesLike(prefix: string): Promise<string[]> {
  return withSql(adminUrl(), async (sql) =>
    (await sql<{ datname: string }[]>`select datname from pg_database where datname like ${prefix + "%"}`).map((r) => r.datname));
}

/**
 * Copies a real, good backup into `dir` under the name a backup taken at `at` would have, with
 * matching sidecars: how a test gets backups "from" last month without waiting a month.
 */
export async function plantBackup(sourcePath: string, dir: string, at: Date): Promise<string> {
  const name = backupName(at);
  const path = join(dir, name);
  await copyFile(sourcePath, path);
  const sidecar = await readFile(checksumPath(sourcePath), "utf8");
  await Bun.write(checksumPath(path), checksumLine(sidecar.split(/\s+/)[0]!, name));
  const meta = await readMeta(sourcePath);
  await Bun.write(metaPath(path), JSON.stringify({ ...meta, created_at: at.toISOString() }));
  for (const p of [path, checksumPath(path), metaPath(path)]) await utimes(p, at, at);
  return path;
}

export const daysAgo = (days: number, from = new Date()) => new Date(from.getTime() - days * 86_400_000);

/** The value of one series of a prom-client metric (0 when never set). */
export async function metricValue(
  metric: { get(): Promise<{ values: { value: number; labels: Record<string, string | number | undefined> }[] }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
}

/** The createBackups dependencies of a rig, with overrides (another config, alerter, clock). */
export function rigDeps(rig: BackupRig, overrides: Partial<BackupsDeps> = {}): BackupsDeps {
  return { config: rig.config, databaseUrl: rig.databaseUrl, alerter: rig.alerter, metrics: rig.metrics, logger: rig.logger, ...overrides };
}
