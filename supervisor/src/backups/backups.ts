/**
 * @module The backup part of the daemon: rounds you can call (`runOnce`, `restoreCheckOnce`) and
 * thin croner schedules around them (UTC, seconds allowed). Each round catches its own errors and
 * turns its outcome into metrics, alerts and the snapshot that /status shows.
 *
 * @example
 *   const backups = createBackups({ config, databaseUrl, alerter, metrics, logger });
 *   backups.start();          // BACKUP_SCHEDULE, RESTORE_CHECK_SCHEDULE, staleness every 5 min
 *   await backups.runOnce();  // on demand
 *   await backups.stop();     // kills a running pg_dump/pg_restore, waits for the round to end
 */
import { Cron } from "croner";
import type { Logger } from "../../../service/src/lib/logger.ts";
import type { Alerter } from "../alerts/alert.ts";
import type { SupervisorConfig } from "../config.ts";
import type { SupervisorMetrics } from "../metrics.ts";
import type { BackupSnapshot } from "../status/snapshot.ts";
import { alertOnBackup, alertOnRestoreCheck, createStalenessAlert } from "./backup-alerts.ts";
import { scanBackupDir, type BackupEntry } from "./backup-files.ts";
import { runBackupRound, type BackupResult } from "./backup-round.ts";
import { dropStaleScratchDatabases, runRestoreCheck, type RestoreCheckResult } from "./restore-check.ts";

export type { BackupResult, RestoreCheckResult };

export interface BackupsDeps {
  config: SupervisorConfig;
  /** The database to back up (the daemon resolves it: DATABASE_URL or the embedded one). */
  databaseUrl: string;
  alerter: Alerter;
  metrics: SupervisorMetrics;
  logger: Logger;
  /** Clock; default the real one. */
  now?: () => Date;
  /** How far behind a cluster's standby may be to be dumped from (dump-source.ts); tests shorten it. */
  maxReplayLagMs?: number;
}

export interface Backups {
  /** Starts the schedules; a second call does nothing. */
  start(): void;
  /** Final: stops the schedules, kills a running tool, waits for the rounds to end. */
  stop(): Promise<void>;
  /** One backup round now; joins the one in progress if there is one. Never throws. */
  runOnce(): Promise<BackupResult>;
  /** One restore check now; joins the one in progress if there is one. Never throws. */
  restoreCheckOnce(): Promise<RestoreCheckResult>;
  /** Re-reads BACKUP_DIR and raises/resolves "backup-stale"; true when stale. */
  checkStaleness(): Promise<boolean>;
  snapshot(): BackupSnapshot;
}

/** Staleness needs no precision: a 26-hour limit checked every 5 minutes. */
const STALENESS_SCHEDULE = "0 */5 * * * *";

export function createBackups(deps: BackupsDeps): Backups {
  const { config, alerter, metrics } = deps;
  const log = deps.logger.child({ part: "backups" });
  const now = deps.now ?? (() => new Date());
  const startedAt = now();
  const abort = new AbortController();
  const staleness = createStalenessAlert(alerter, config.backupMaxAgeHours);
  const jobs: Cron[] = [];
  let backupJob: Cron | null = null;
  let backupInFlight: Promise<BackupResult> | null = null;
  let checkInFlight: Promise<RestoreCheckResult> | null = null;
  let files: BackupEntry[] = [];
  let firstCheck: Promise<boolean> | null = null;
  let firstCleanup: Promise<void> | null = null;
  let lockedAt: Date | null = null;
  const last = { successAt: null as string | null, failureAt: null as string | null, error: null as string | null, duration: null as number | null, size: null as number | null };

  async function refreshFiles(): Promise<void> {
    try {
      files = (await scanBackupDir(config.backupDir)).backups;
    } catch (err) {
      log.warn("backup folder unreadable", { dir: config.backupDir, err });
    }
    const newest = files.find((f) => f.good);
    if (newest) metrics.backupLastSuccess.set(newest.createdAt.getTime() / 1000);
  }

  async function checkStaleness(): Promise<boolean> {
    await refreshFiles();
    const newest = files.find((f) => f.good);
    // A VM that loses the lock leaves the backups to the supervisor that holds it (which alerts
    // on its own failures and staleness); it does not cry "stale" over its own empty folder.
    if (lockedAt && (!newest || lockedAt > newest.createdAt)) return staleness.check(lockedAt, "another supervisor held the backup lock", now());
    if (newest) return staleness.check(newest.createdAt, `newest good backup ${newest.name} was taken`, now());
    return staleness.check(startedAt, "no good backup yet; the supervisor started", now());
  }

  function record(result: BackupResult): void {
    if (result.status === "ok") {
      Object.assign(last, { successAt: result.createdAt, error: null, duration: result.durationSeconds, size: result.sizeBytes });
      metrics.backupDuration.set(result.durationSeconds);
      metrics.backupSize.set(result.sizeBytes);
      log.info("backup done", {
        file: result.file, size_bytes: result.sizeBytes, duration_s: result.durationSeconds, pruned: result.pruned,
        from: `${result.source.server} ${result.source.role}`, from_reason: result.source.reason,
      });
      if (result.pruneError) log.warn("backup retention failed", { err: result.pruneError });
    } else if (result.status === "skipped") {
      if (result.reason === "locked") lockedAt = now();
      log.info("backup skipped", { reason: result.reason, detail: result.detail });
    } else {
      Object.assign(last, { failureAt: now().toISOString(), error: `${result.stage}: ${result.error}` });
      metrics.backupFailures.inc({ stage: result.stage });
      log.error("backup failed", {
        stage: result.stage, err: result.error, duration_s: result.durationSeconds,
        ...(result.source ? { from: `${result.source.server} ${result.source.role}`, from_reason: result.source.reason } : {}),
      });
    }
  }

  async function backupRound(): Promise<BackupResult> {
    if (abort.signal.aborted) return { status: "skipped", reason: "stopping", detail: "the supervisor is stopping", durationSeconds: 0 };
    let result: BackupResult;
    try {
      result = await runBackupRound({ config, databaseUrl: deps.databaseUrl, now: now(), signal: abort.signal, maxReplayLagMs: deps.maxReplayLagMs });
    } catch (err) {
      result = { status: "failed", stage: "dump", error: (err as Error).message, durationSeconds: 0 };
    }
    // A dump killed because we are stopping is not a failed backup; the next start tries again.
    if (abort.signal.aborted && result.status === "failed") {
      result = { status: "skipped", reason: "stopping", detail: `stopped during the backup (${result.error})`, durationSeconds: result.durationSeconds };
    }
    record(result);
    alertOnBackup(alerter, result);
    await checkStaleness();
    return result;
  }

  async function checkRound(): Promise<RestoreCheckResult> {
    let result: RestoreCheckResult;
    try {
      result = await runRestoreCheck({ config, databaseUrl: deps.databaseUrl, now: now(), signal: abort.signal });
    } catch (err) {
      result = { status: "failed", file: null, error: (err as Error).message, mismatches: [], durationSeconds: 0 };
    }
    if (result.status === "failed" && abort.signal.aborted) return result;
    if (result.status === "ok") log.info("restore check passed", { file: result.file, tables: result.tables, rows: result.rows, duration_s: result.durationSeconds });
    else if (result.status === "skipped") log.info("restore check skipped", { reason: result.reason, detail: result.detail });
    else {
      metrics.backupFailures.inc({ stage: "restore_check" });
      log.error("restore check failed", { file: result.file, err: result.error, mismatches: result.mismatches });
    }
    alertOnRestoreCheck(alerter, result);
    return result;
  }

  /** Scratch databases of checks interrupted before this start. */
  async function cleanScratch(): Promise<void> {
    const { dropped, error } = await dropStaleScratchDatabases(deps.databaseUrl, now());
    if (dropped.length > 0) log.info("dropped leftover restore-check databases", { databases: dropped });
    if (error) log.warn("could not drop leftover restore-check databases", { error });
  }

  const runOnce = () => (backupInFlight ??= backupRound().finally(() => { backupInFlight = null; }));
  const restoreCheckOnce = () => (checkInFlight ??= checkRound().finally(() => { checkInFlight = null; }));

  return {
    runOnce,
    restoreCheckOnce,
    checkStaleness,
    start() {
      if (jobs.length > 0 || abort.signal.aborted) return;
      const options = { timezone: "UTC", protect: true, catch: (err: unknown) => log.error("backup schedule error", { err }) };
      backupJob = new Cron(config.backupSchedule, options, async () => { await runOnce(); });
      jobs.push(
        backupJob,
        new Cron(config.restoreCheckSchedule, options, async () => { await restoreCheckOnce(); }),
        new Cron(STALENESS_SCHEDULE, options, async () => { await checkStaleness(); }),
      );
      firstCheck = checkStaleness();
      firstCleanup = cleanScratch().catch((error: unknown) => log.warn("could not drop leftover restore-check databases", { error }));
      log.info("backup schedules started", { backup: config.backupSchedule, restore_check: config.restoreCheckSchedule, dir: config.backupDir });
    },
    async stop() {
      abort.abort();
      for (const job of jobs) job.stop();
      await Promise.allSettled([backupInFlight, checkInFlight, firstCheck, firstCleanup]);
    },
    snapshot(): BackupSnapshot {
      const newest = files.find((f) => f.good);
      return {
        last_success_at: last.successAt ?? newest?.createdAt.toISOString() ?? null,
        last_failure_at: last.failureAt,
        last_error: last.error,
        last_duration_seconds: last.duration ?? newest?.meta?.duration_seconds ?? null,
        last_size_bytes: last.size ?? newest?.sizeBytes ?? null,
        files: files.map((f) => ({
          name: f.name, size_bytes: f.sizeBytes, created_at: f.createdAt.toISOString(), verified: f.good,
          source: f.meta?.source ? `${f.meta.source.server} ${f.meta.source.role}` : null,
        })),
        next_run_at: abort.signal.aborted ? null : backupJob?.nextRun()?.toISOString() ?? null,
      };
    },
  };
}
