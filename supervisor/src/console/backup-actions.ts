/**
 * @module The console's backup buttons: "back up now" and "restore drill now" run the daemon's
 * own rounds (the ones its schedules run, joined if one is under way), and each dump's checksum
 * is read from its `.sha256` sidecar for the list.
 */
import { join } from "node:path";
import type { Backups } from "../backups/backups.ts";
import { readChecksum, readMeta } from "../backups/backup-files.ts";
import { findPgTools, parseToolVersion } from "../backups/pg-tools.ts";
import { verifyBackupFile } from "../backups/verify.ts";
import type { RollingRestartResult } from "../status/server.ts";

export interface BackupActions {
  backupNow(): Promise<RollingRestartResult>;
  restoreDrill(): Promise<RollingRestartResult>;
  /** `linkfort-supervisor backup verify FILE` for a dump in BACKUP_DIR: its checksum and archive. */
  verify(name: string): Promise<RollingRestartResult>;
  /** name → sha256 hex (null: no readable sidecar). */
  checksums(names: string[]): Promise<Record<string, string | null>>;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
/** A dump's own name (backups/backup-files.ts), never a path: nothing outside BACKUP_DIR is read. */
export const DUMP_NAME = /^linkfort-\d{8}T\d{6}Z\.dump$/;

export function backupActions(backups: Pick<Backups, "runOnce" | "restoreCheckOnce">, backupDir: string, pgBinDir: string | undefined): BackupActions {
  return {
    async backupNow() {
      const r = await backups.runOnce();
      if (r.status === "ok") return { ok: true, detail: `${r.file}, ${mib(r.sizeBytes)}, sha256 ${r.sha256}, ${r.durationSeconds.toFixed(1)} s` };
      if (r.status === "skipped") return { ok: r.reason === "locked", detail: `skipped: ${r.detail}` };
      return { ok: false, detail: `failed at ${r.stage}: ${r.error}` };
    },
    async restoreDrill() {
      const r = await backups.restoreCheckOnce();
      if (r.status === "ok") return { ok: true, detail: `${r.file} restored into a scratch database: ${r.tables} tables, ${r.rows} rows match, ${r.durationSeconds.toFixed(1)} s` };
      if (r.status === "skipped") return { ok: false, detail: `skipped: ${r.detail}` };
      return { ok: false, detail: `failed${r.file ? ` for ${r.file}` : ""}: ${r.error}` };
    },
    async verify(name) {
      if (!DUMP_NAME.test(name)) return { ok: false, detail: `${name} is not a backup's name` };
      const path = join(backupDir, name);
      // The tools of the archive's own PostgreSQL major, named in its metadata sidecar.
      const meta = await readMeta(path);
      const major = meta ? parseToolVersion(`(PostgreSQL) ${meta.pg_dump_version}`)?.major : undefined;
      if (major === undefined) return { ok: false, detail: `${name} has no readable metadata; run linkfort-supervisor backup verify ${name}` };
      const tools = await findPgTools(major, pgBinDir);
      if (!tools.ok) return { ok: false, detail: tools.error };
      const result = await verifyBackupFile(tools.tools, path);
      return result.ok
        ? { ok: true, detail: `${name}: OK (sha256 ${result.sha256}, ${result.tocEntries} archive entries)` }
        : { ok: false, detail: `${name}: ${result.error}` };
    },
    async checksums(names) {
      const digests = await Promise.all(names.map((name) => readChecksum(join(backupDir, name))));
      return Object.fromEntries(names.map((name, i) => [name, digests[i] ?? null]));
    },
  };
}
