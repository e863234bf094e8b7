/**
 * @module The proof that backups restore: the newest good backup goes into a scratch database,
 * every table's row count is compared with the count taken in the dump's own snapshot, and the
 * scratch database is dropped again, whatever happened.
 */
import type { SupervisorConfig } from "../config.ts";
import { newestGood, scanBackupDir } from "./backup-files.ts";
import { closeSession, countRows, openSession, serverVersion, urlForDatabase } from "./connection.ts";
import { findPgTools } from "./pg-tools.ts";
import { dropDatabase, restoreBackup, scratchDatabaseName } from "./restore.ts";

export interface RowMismatch {
  table: string;
  /** null: the table is in the restore but was not in the source. */
  expected: number | null;
  /** null: the table is missing from the restore. */
  actual: number | null;
}

export type RestoreCheckResult =
  | { status: "ok"; file: string; database: string; tables: number; rows: number; durationSeconds: number }
  | { status: "skipped"; reason: "no-backup"; detail: string }
  | { status: "failed"; file: string | null; error: string; mismatches: RowMismatch[]; durationSeconds: number };

export interface RestoreCheckInput {
  config: Pick<SupervisorConfig, "backupDir" | "pgBinDir">;
  databaseUrl: string;
  now: Date;
  signal?: AbortSignal;
}

export const SCRATCH_PREFIX = "linkfort_restore_check";
/** A scratch database younger than this (by the stamp in its name) may be another supervisor's check still running; 6 h. */
const SCRATCH_STALE_MS = 6 * 3_600_000;

/**
 * Drops the scratch databases that interrupted checks left (killed supervisor, reboot): older than
 * SCRATCH_STALE_MS by their name and with no session open. Returns the names dropped, or why not.
 */
export async function dropStaleScratchDatabases(databaseUrl: string, now: Date): Promise<{ dropped: string[]; error?: string }> {
  const sql = openSession(databaseUrl, "linkfort-restore-check");
  let names: string[];
  try {
    const rows = await sql<{ name: string }[]>`
      select datname as name from pg_database d
      where datname like ${`${SCRATCH_PREFIX}\_%`}
        and not exists (select 1 from pg_stat_activity a where a.datname = d.datname)`;
    names = rows.map((r) => r.name).filter((name) => {
      const at = stampOf(name);
      return at !== null && now.getTime() - at.getTime() > SCRATCH_STALE_MS;
    });
  } catch (err) {
    return { dropped: [], error: (err as Error).message };
  } finally {
    await closeSession(sql);
  }
  const dropped: string[] = [];
  for (const name of names) {
    const failed = await dropDatabase(databaseUrl, name);
    if (failed) return { dropped, error: failed };
    dropped.push(name);
  }
  return { dropped };
}

/** The time in a scratch name ("…_20261122t030000z_3fa1"), or null. */
function stampOf(name: string): Date | null {
  const m = /_(\d{4})(\d\d)(\d\d)t(\d\d)(\d\d)(\d\d)z_[0-9a-z]+$/.exec(name);
  return m ? new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`) : null;
}

export async function runRestoreCheck(input: RestoreCheckInput): Promise<RestoreCheckResult> {
  const started = performance.now();
  const backup = newestGood(await scanBackupDir(input.config.backupDir));
  if (!backup?.meta) return { status: "skipped", reason: "no-backup", detail: `no verified backup in ${input.config.backupDir}` };
  const failed = (error: string, mismatches: RowMismatch[] = []): RestoreCheckResult =>
    ({ status: "failed", file: backup.name, error, mismatches, durationSeconds: (performance.now() - started) / 1000 });

  const major = await serverMajor(input.databaseUrl);
  if (typeof major === "string") return failed(major);
  const found = await findPgTools(major, input.config.pgBinDir);
  if (!found.ok) return failed(found.error);

  await dropStaleScratchDatabases(input.databaseUrl, input.now);
  const database = scratchDatabaseName(SCRATCH_PREFIX, input.now);
  try {
    const restored = await restoreBackup({ tools: found.tools, file: backup.path, databaseUrl: input.databaseUrl, target: { kind: "new", database }, signal: input.signal });
    if (!restored.ok) return failed(`${restored.stage}: ${restored.error}`);
    const actual = await countIn(urlForDatabase(input.databaseUrl, database));
    if (typeof actual === "string") return failed(actual);
    const mismatches = compareCounts(backup.meta.row_counts, actual);
    if (mismatches.length > 0) {
      return failed(`row counts differ in ${mismatches.length} table(s): ${mismatches.map(showMismatch).join(", ")}`, mismatches);
    }
    const rows = Object.values(actual).reduce((a, b) => a + b, 0);
    return { status: "ok", file: backup.name, database, tables: Object.keys(actual).length, rows, durationSeconds: (performance.now() - started) / 1000 };
  } finally {
    await dropDatabase(input.databaseUrl, database);
  }
}

export function compareCounts(expected: Record<string, number>, actual: Record<string, number>): RowMismatch[] {
  const mismatches: RowMismatch[] = [];
  for (const [table, count] of Object.entries(expected)) {
    if (actual[table] !== count) mismatches.push({ table, expected: count, actual: actual[table] ?? null });
  }
  for (const [table, count] of Object.entries(actual)) {
    if (!(table in expected)) mismatches.push({ table, expected: null, actual: count });
  }
  return mismatches;
}

const showMismatch = (m: RowMismatch) => `${m.table} expected ${m.expected ?? "no table"}, got ${m.actual ?? "no table"}`;

async function serverMajor(url: string): Promise<number | string> {
  const sql = openSession(url, "linkfort-restore-check");
  try {
    return (await serverVersion(sql)).major;
  } catch (err) {
    return `cannot reach the database: ${(err as Error).message}`;
  } finally {
    await closeSession(sql);
  }
}

async function countIn(url: string): Promise<Record<string, number> | string> {
  const sql = openSession(url, "linkfort-restore-check");
  try {
    return await countRows(sql);
  } catch (err) {
    return `counting rows in the scratch database: ${(err as Error).message}`;
  } finally {
    await closeSession(sql);
  }
}
