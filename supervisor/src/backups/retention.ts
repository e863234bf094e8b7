/**
 * @module Which files to delete from BACKUP_DIR. Called only after a new backup succeeded: a run of
 * failures must never eat the backups that are left. The newest good backup is kept whatever its
 * age, so a long outage of the backup job still leaves one thing to restore.
 */
import { rm } from "node:fs/promises";
import { checksumPath, metaPath, newestGood, scanBackupDir, type BackupDirScan } from "./backup-files.ts";
import { fsyncDir } from "./durable-fs.ts";

export interface RetentionOptions {
  /** Backups older than this many days go (default 7, BACKUP_RETENTION_DAYS). */
  retentionDays: number;
  now: Date;
}

const DAY_MS = 86_400_000;
/** A temporary file this old was left by a crash, not by a dump in progress. */
const STRAY_TEMP_AGE_MS = DAY_MS;

/** Paths to delete: pure, so the rules are tested without touching files. */
export function planPrune(scan: BackupDirScan, opts: RetentionOptions): string[] {
  const cutoff = opts.now.getTime() - opts.retentionDays * DAY_MS;
  const keep = newestGood(scan);
  const paths: string[] = [];
  for (const backup of scan.backups) {
    if (backup === keep || backup.createdAt.getTime() >= cutoff) continue;
    paths.push(backup.path, checksumPath(backup.path), metaPath(backup.path));
  }
  for (const temp of scan.temps) if (temp.mtime.getTime() < opts.now.getTime() - STRAY_TEMP_AGE_MS) paths.push(temp.path);
  for (const orphan of scan.orphans) if (orphan.mtime.getTime() < cutoff) paths.push(orphan.path);
  return paths;
}

/** Deletes what `planPrune` names; returns the file names of the backups removed. */
export async function pruneBackups(dir: string, opts: RetentionOptions): Promise<string[]> {
  const scan = await scanBackupDir(dir);
  const paths = planPrune(scan, opts);
  if (paths.length === 0) return [];
  for (const path of paths) await rm(path, { force: true });
  await fsyncDir(dir);
  const removed = new Set(paths);
  return scan.backups.filter((b) => removed.has(b.path)).map((b) => b.name);
}
