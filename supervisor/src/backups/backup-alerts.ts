/**
 * @module Which backup outcomes alert, and which clear an alert. A round happens rarely (daily),
 * so each bad round raises again (the alerter dedups); staleness is checked every few minutes, so
 * it raises only when it flips.
 */
import type { Alerter } from "../alerts/alert.ts";
import type { BackupResult } from "./backup-round.ts";
import type { RestoreCheckResult } from "./restore-check.ts";

export const BACKUP_ALERT_KEYS = {
  failed: "backup-failed",
  stale: "backup-stale",
  diskLow: "disk-low",
  unreachable: "database-unreachable",
  restoreCheck: "restore-check-failed",
} as const;

const K = BACKUP_ALERT_KEYS;

export function alertOnBackup(alerter: Alerter, result: BackupResult): void {
  if (result.status === "ok") {
    alerter.resolve(K.diskLow);
    alerter.resolve(K.unreachable);
    alerter.resolve(K.failed, `backup ${result.file} succeeded`);
    return;
  }
  if (result.status === "skipped") {
    // Another VM won the lock: this one reached the database and had room, so those cleared.
    if (result.reason === "locked") {
      alerter.resolve(K.diskLow);
      alerter.resolve(K.unreachable);
    }
    return;
  }
  switch (result.stage) {
    case "disk":
      // The cause is the whole story: one alert, not also "backup failed"; staleness follows if it lasts.
      alerter.raise({ key: K.diskLow, severity: "warning", title: "Backup disk low: backup skipped", detail: result.error });
      return;
    case "connect":
      alerter.resolve(K.diskLow); // the space check before connecting passed
      alerter.raise({ key: K.unreachable, severity: "critical", title: "Database unreachable", detail: result.error });
      break;
    default:
      alerter.resolve(K.unreachable);
      alerter.resolve(K.diskLow);
  }
  alerter.raise({ key: K.failed, severity: "warning", title: `Backup failed (${result.stage})`, detail: result.error });
}

export function alertOnRestoreCheck(alerter: Alerter, result: RestoreCheckResult): void {
  if (result.status === "ok") alerter.resolve(K.restoreCheck, `restore of ${result.file} gave the same row counts`);
  if (result.status === "failed") {
    alerter.raise({
      key: K.restoreCheck, severity: "critical", title: "Backup restore check failed",
      detail: `${result.file ?? "no file"}: ${result.error}`,
    });
  }
}

/** Raises "backup-stale" when it becomes true, resolves it when it stops being true. */
export function createStalenessAlert(alerter: Alerter, maxAgeHours: number) {
  let stale = false;
  return {
    /**
     * `since`: when backups were last known to be in hand, and `what` that was: the newest good
     * backup, another supervisor holding the lock, or (a fresh install) this supervisor's start.
     */
    check(since: Date, what: string, now: Date): boolean {
      const ageHours = (now.getTime() - since.getTime()) / 3_600_000;
      const isStale = ageHours > maxAgeHours;
      if (isStale && !stale) {
        alerter.raise({
          key: K.stale, severity: "critical", title: `No good backup for over ${maxAgeHours} hours`,
          detail: `${what} ${ageHours.toFixed(1)} hours ago (${since.toISOString()})`,
        });
      } else if (!isStale && stale) {
        alerter.resolve(K.stale, `${what} ${ageHours.toFixed(1)} hours ago`);
      }
      stale = isStale;
      return stale;
    },
  };
}
