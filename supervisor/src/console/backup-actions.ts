/**
 * @module The console's backup buttons: "back up now" and "restore drill now" run the daemon's
 * own rounds (the ones its schedules run, joined if one is under way), and each dump's checksum
 * is read from its `.sha256` sidecar for the list.
 */
import { join } from "node:path";
import type { Backups } from "../backups/backups.ts";
import { readChecksum } from "../backups/backup-files.ts";
import type { RollingRestartResult } from "../status/server.ts";

export interface BackupActions {
  backupNow(): Promise<RollingRestartResult>;
  restoreDrill(): Promise<RollingRestartResult>;
  /** name → sha256 hex (null: no readable sidecar). */
  checksums(names: string[]): Promise<Record<string, string | null>>;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export function backupActions(backups: Pick<Backups, "runOnce" | "restoreCheckOnce">, backupDir: string): BackupActions {
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
    async checksums(names) {
      const digests = await Promise.all(names.map((name) => readChecksum(join(backupDir, name))));
      return Object.fromEntries(names.map((name, i) => [name, digests[i] ?? null]));
    },
  };
}
