/**
 * @module One backup round, start to end, as a value: free space → advisory lock → matching
 * pg_dump → dump and verify → retention. The scheduler, alerts and metrics live around it
 * (backups.ts); the CLI's `backup now` runs it directly.
 */
import type { SupervisorConfig } from "../config.ts";
import { dumpDatabase } from "./dump.ts";
import { ensurePrivateDir, freeBytes } from "./durable-fs.ts";
import { BACKUP_LOCK_ID, withAdvisoryLock } from "./lock.ts";
import { findPgTools } from "./pg-tools.ts";
import { pruneBackups } from "./retention.ts";

export type BackupStage = "disk" | "connect" | "tools" | "dump" | "verify";

export type BackupResult =
  | {
    status: "ok"; file: string; path: string; createdAt: string; sizeBytes: number; sha256: string;
    durationSeconds: number; pruned: string[]; pruneError: string | null;
  }
  /** locked: another supervisor holds the backup lock and takes this round's backup (not a failure);
   *  stopping: the daemon is shutting down. */
  | { status: "skipped"; reason: "locked" | "stopping"; detail: string; durationSeconds: number }
  | { status: "failed"; stage: BackupStage; error: string; durationSeconds: number };

export type BackupSettings = Pick<SupervisorConfig, "backupDir" | "backupRetentionDays" | "backupMinFreeMb" | "pgBinDir">;

export interface RoundInput {
  config: BackupSettings;
  databaseUrl: string;
  now: Date;
  signal?: AbortSignal;
}

const MB = 1024 * 1024;

export async function runBackupRound(input: RoundInput): Promise<BackupResult> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const failed = (stage: BackupStage, error: string): BackupResult => ({ status: "failed", stage, error, durationSeconds: seconds() });
  const { backupDir: dir } = input.config;

  // Before the lock: a VM short of space steps aside and lets one with room win it.
  try {
    await ensurePrivateDir(dir);
    const free = await freeBytes(dir);
    if (free < input.config.backupMinFreeMb * MB) {
      return failed("disk", `only ${Math.floor(free / MB)} MB free in ${dir}; BACKUP_MIN_FREE_MB is ${input.config.backupMinFreeMb}`);
    }
  } catch (err) {
    return failed("dump", `backup folder ${dir}: ${(err as Error).message}`);
  }

  const locked = await withAdvisoryLock(input.databaseUrl, BACKUP_LOCK_ID, async (server): Promise<BackupResult> => {
    const found = await findPgTools(server.major, input.config.pgBinDir);
    if (!found.ok) return failed("tools", found.error);
    try {
      const dumped = await dumpDatabase({ tools: found.tools, databaseUrl: input.databaseUrl, dir, now: input.now, serverVersion: server.text, signal: input.signal });
      if (!dumped.ok) return failed(dumped.stage, dumped.error);
      const { file } = dumped;
      const pruned = await pruneBackups(dir, { retentionDays: input.config.backupRetentionDays, now: input.now })
        .then((names) => ({ names, error: null }), (err: Error) => ({ names: [] as string[], error: err.message }));
      return {
        status: "ok", file: file.name, path: file.path, createdAt: file.meta.created_at, sizeBytes: file.sizeBytes, sha256: file.sha256,
        durationSeconds: seconds(), pruned: pruned.names, pruneError: pruned.error,
      };
    } catch (err) {
      // Writing the file or a sidecar failed (ENOSPC, EIO): the dump is not usable.
      return failed("dump", (err as Error).message);
    }
  });

  if (locked.status === "ran") return locked.value;
  if (locked.status === "busy") {
    return { status: "skipped", reason: "locked", detail: "another supervisor holds the backup lock", durationSeconds: seconds() };
  }
  return failed("connect", `cannot reach the database: ${locked.error}`);
}
