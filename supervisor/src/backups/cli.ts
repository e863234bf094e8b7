/**
 * @module `linkfort-supervisor backup …`: the operator's hands on backups, e.g. at 3 AM.
 * Exit codes: 0 done, 1 failed (the reason is printed), 2 bad arguments (usage is printed).
 */
import { existsSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import type { Logger } from "../../../service/src/lib/logger.ts";
import type { SupervisorConfig } from "../config.ts";
import { readMeta, scanBackupDir } from "./backup-files.ts";
import { runBackupRound } from "./backup-round.ts";
import { closeSession, databaseName, openSession, redactUrl, serverVersion } from "./connection.ts";
import { findPgTools, parseToolVersion, type ToolsResult } from "./pg-tools.ts";
import { runRestoreCheck } from "./restore-check.ts";
import { restoreIntoLive } from "./live-restore.ts";
import { restoreBackup, scratchDatabaseName } from "./restore.ts";
import { verifyBackupFile } from "./verify.ts";

export interface BackupCommandIo {
  config: SupervisorConfig;
  /** The live database (the daemon's resolution of DATABASE_URL). */
  databaseUrl: string;
  logger: Logger;
  out: (line: string) => void;
}

export const BACKUP_USAGE = `usage: linkfort-supervisor backup <command>
  now                              take a backup now (skipped if another supervisor holds the backup lock)
  list                             backups in BACKUP_DIR, newest first
  verify FILE                      check FILE against its sha256 sidecar and that pg_restore can read it
  restore FILE                     restore FILE into a NEW database; its name is printed
  restore FILE --into-live --yes   replace the live database's contents with FILE: refused while instances
                                   are connected (stop them first); dumps the current data first and prints
                                   how to undo; empties the Redis cache and bans (REDIS_URL)
  check                            restore the newest good backup into a scratch database, compare row counts, drop it
FILE is a path, or the name of a file in BACKUP_DIR.`;

type Io = BackupCommandIo;

export async function runBackupCommand(args: string[], io: Io): Promise<number> {
  const [command, ...rest] = args;
  const usage = (problem?: string) => {
    if (problem) io.out(`error: ${problem}`);
    io.out(BACKUP_USAGE);
    return problem ? 2 : 0;
  };
  if (command === undefined) return usage("no backup command given");
  if (command === "--help" || command === "-h" || command === "help") return usage();
  const positional = rest.filter((a) => !a.startsWith("--"));
  const flags = rest.filter((a) => a.startsWith("--"));
  switch (command) {
    case "now":
    case "list":
    case "check":
      if (rest.length > 0) return usage(`"backup ${command}" takes no arguments, got ${rest.join(" ")}`);
      return command === "now" ? backupNow(io) : command === "list" ? list(io) : check(io);
    case "verify":
      if (positional.length !== 1 || flags.length > 0) return usage("backup verify takes exactly one FILE");
      return verify(io, resolveFile(io.config, positional[0]!));
    case "restore": {
      if (positional.length !== 1) return usage("backup restore takes exactly one FILE");
      const unknown = flags.filter((f) => f !== "--into-live" && f !== "--yes");
      if (unknown.length > 0) return usage(`unknown option ${unknown.join(" ")}`);
      const intoLive = flags.includes("--into-live");
      const yes = flags.includes("--yes");
      if (intoLive && !yes) return usage("--into-live replaces every row of the live database; add --yes to confirm");
      if (yes && !intoLive) return usage("--yes only goes with --into-live");
      return restore(io, resolveFile(io.config, positional[0]!), intoLive);
    }
    default:
      return usage(`unknown backup command "${command}"`);
  }
}

/** A bare name means a file in BACKUP_DIR; anything with a slash (or that exists as given) is a path. */
export function resolveFile(config: Pick<SupervisorConfig, "backupDir">, file: string): string {
  if (isAbsolute(file) || file.includes("/") || existsSync(file)) return file;
  return join(config.backupDir, file);
}

async function backupNow(io: Io): Promise<number> {
  const result = await runBackupRound({ config: io.config, databaseUrl: io.databaseUrl, now: new Date() });
  if (result.status === "ok") {
    io.out(`backup written: ${result.path} (${formatBytes(result.sizeBytes)}, ${result.durationSeconds.toFixed(1)} s, verified)`);
    io.out(`sha256 ${result.sha256}`);
    io.out(`from ${result.source.server} (${result.source.role}): ${result.source.reason}`);
    for (const name of result.pruned) io.out(`pruned (older than ${io.config.backupRetentionDays} days): ${name}`);
    if (result.pruneError) io.out(`warning: retention failed: ${result.pruneError}`);
    return 0;
  }
  if (result.status === "skipped") {
    io.out(`backup skipped: ${result.detail}`);
    return 1;
  }
  io.out(`backup failed (${result.stage}): ${result.error}`);
  return 1;
}

async function list(io: Io): Promise<number> {
  const { backups } = await scanBackupDir(io.config.backupDir);
  if (backups.length === 0) {
    io.out(`no backups in ${io.config.backupDir}`);
    return 0;
  }
  const rows = backups.map((b) => [
    b.name, formatBytes(b.sizeBytes), b.createdAt.toISOString().replace("T", " ").replace(/\.\d{3}Z$/, ""),
    b.good ? "yes" : b.meta?.verify_error ? "FAILED" : "no",
    b.meta ? String(Object.values(b.meta.row_counts).reduce((x, y) => x + y, 0)) : "-",
    // Sidecars from before clusters do not say; those dumps read the one server there was.
    b.meta?.source ? `${b.meta.source.server} ${b.meta.source.role}` : "-",
  ]);
  const header = ["NAME", "SIZE", "CREATED (UTC)", "VERIFIED", "ROWS", "FROM"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) io.out(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
  return 0;
}

async function verify(io: Io, file: string): Promise<number> {
  const found = await toolsFor(io, file);
  if (!found.ok) return fail(io, found.error);
  const result = await verifyBackupFile(found.tools, file);
  if (!result.ok) return fail(io, `${file}: ${result.error}`);
  io.out(`${file}: OK (sha256 ${result.sha256}, ${result.tocEntries} archive entries)`);
  return 0;
}

async function restore(io: Io, file: string, intoLive: boolean): Promise<number> {
  const found = await toolsFor(io, file, true);
  if (!found.ok) return fail(io, found.error);
  if (intoLive) {
    const live = await restoreIntoLive({ tools: found.tools, file, databaseUrl: io.databaseUrl, backupDir: io.config.backupDir, redisUrl: io.config.redisUrl, out: io.out });
    if (live.restored) io.logger.warn("live database restored from backup", { file, database: live.restored.database, sha256: live.restored.sha256, safety_dump: live.safety });
    return live.code;
  }
  const database = scratchDatabaseName("linkfort_restore", new Date());
  io.out(`restoring ${file} into new database ${database}…`);
  const result = await restoreBackup({ tools: found.tools, file, databaseUrl: io.databaseUrl, target: { kind: "new", database } });
  if (!result.ok) return fail(io, `restore failed (${result.stage}): ${result.error}`);
  io.logger.warn("backup restored into a new database", { file, database: result.database, sha256: result.sha256 });
  io.out(`restored into database ${result.database} in ${result.durationSeconds.toFixed(1)} s`);
  io.out(`its URL: ${redactUrl(result.url)} (point DATABASE_URL at it to use it)`);
  return 0;
}

async function check(io: Io): Promise<number> {
  const result = await runRestoreCheck({ config: io.config, databaseUrl: io.databaseUrl, now: new Date() });
  if (result.status === "skipped") return fail(io, `restore check skipped: ${result.detail}`);
  if (result.status === "failed") return fail(io, `restore check failed for ${result.file ?? "no file"}: ${result.error}`);
  io.out(`restore check passed: ${result.file} restored into a scratch database with the same row counts (${result.tables} tables, ${result.rows} rows); scratch database dropped`);
  return 0;
}

/**
 * The tools for a file: its archive's own major when the metadata names it (verify works with the
 * database down), else the server's. `needServer` insists on the server's (a restore writes to it).
 */
async function toolsFor(io: Io, file: string, needServer = false): Promise<ToolsResult> {
  if (!existsSync(file)) return { ok: false, error: `${file} does not exist` };
  const meta = needServer ? null : await readMeta(file);
  const fromMeta = meta ? parseToolVersion(`(PostgreSQL) ${meta.pg_dump_version}`)?.major : undefined;
  if (fromMeta !== undefined) return findPgTools(fromMeta, io.config.pgBinDir);
  const sql = openSession(io.databaseUrl, "linkfort-backup-cli");
  try {
    return findPgTools((await serverVersion(sql)).major, io.config.pgBinDir);
  } catch (err) {
    return { ok: false, error: `cannot reach the database to learn its version: ${(err as Error).message}` };
  } finally {
    await closeSession(sql);
  }
}

function fail(io: Io, message: string): number {
  io.out(message);
  return 1;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return `${value.toFixed(1)} ${units[unit]}`;
}
