/**
 * What a backup round tells the operators: database-unreachable and backup-failed when it cannot
 * dump, disk-low when there is no room, backup-stale when the newest good backup is too old, each
 * cleared by the next good round. Alerts are recorded by an in-memory Alerter (our own interface).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir } from "node:fs/promises";
import postgres from "postgres";
import { freePort } from "../../service/test/ports.ts";
import { tcpProxy } from "../../service/test/tcp-proxy.ts";
import { scanBackupDir } from "../src/backups/backup-files.ts";
import { createBackups, type BackupsDeps } from "../src/backups/backups.ts";
import { BACKUP_LOCK_ID } from "../src/backups/lock.ts";
import { backupRig, rigDeps, clearedAfterRaise, daysAgo, metricValue, plantBackup, type BackupRig } from "./backups-harness.ts";
import { recordingAlerter } from "./recording-alerter.ts";

let rig: BackupRig;

beforeAll(async () => {
  rig = await backupRig();
}, 30_000);
afterAll(async () => {
  await rig.close();
}, 30_000);

const deps = (overrides: Partial<BackupsDeps> = {}) => rigDeps(rig, overrides);

describe("failures alert, and clear on the next success", () => {
  test("an unreachable database fails the round with database-unreachable and backup-failed; both resolve after a good backup", async () => {
    const target = new URL(rig.databaseUrl);
    const proxy = tcpProxy({ host: target.hostname, port: Number(target.port) });
    await proxy.start();
    target.port = String(proxy.port);
    const rec = recordingAlerter();
    const dir = await rig.newDir();
    const backups = createBackups(deps({ databaseUrl: target.toString(), alerter: rec, config: { ...rig.config, backupDir: dir } }));
    try {
      await proxy.stop();
      const failed = await backups.runOnce();
      expect(failed, JSON.stringify(failed)).toMatchObject({ status: "failed", stage: "connect" });
      expect(rec.raised("database-unreachable"), JSON.stringify(rec.calls)).toHaveLength(1);
      expect(rec.raised("backup-failed")).toHaveLength(1);
      expect(rec.raised("backup-failed")[0]?.detail).toContain("cannot reach the database");
      expect(await metricValue(rig.metrics.backupFailures, { stage: "connect" })).toBeGreaterThanOrEqual(1);
      expect(backups.snapshot().last_error).toContain("connect");
      expect((await scanBackupDir(dir)).backups, "no file from a failed round").toHaveLength(0);

      await proxy.start();
      const ok = await backups.runOnce();
      expect(ok, JSON.stringify(ok)).toMatchObject({ status: "ok" });
      expect(clearedAfterRaise(rec, "database-unreachable"), JSON.stringify(rec.calls)).toBe(true);
      expect(clearedAfterRaise(rec, "backup-failed"), JSON.stringify(rec.calls)).toBe(true);
      expect(backups.snapshot().last_error).toBeNull();
    } finally {
      await backups.stop();
      await proxy.stop();
    }
  });

  test("too little free disk raises disk-low and dumps nothing", async () => {
    const rec = recordingAlerter();
    const dir = await rig.newDir();
    const backups = createBackups(deps({ alerter: rec, config: { ...rig.config, backupDir: dir, backupMinFreeMb: 10_000_000 } }));
    const result = await backups.runOnce();
    expect(result, JSON.stringify(result)).toMatchObject({ status: "failed", stage: "disk" });
    expect(rec.raised("disk-low")).toHaveLength(1);
    expect(rec.raised("disk-low")[0]?.detail).toContain("BACKUP_MIN_FREE_MB is 10000000");
    expect(rec.raised("backup-failed"), "the cause alone, not a second alert").toHaveLength(0);
    expect((await scanBackupDir(dir)).backups).toHaveLength(0);
  });

  test("no good backup for longer than BACKUP_MAX_AGE_HOURS raises backup-stale once; a good backup resolves it", async () => {
    const rec = recordingAlerter();
    const source = await createBackups(deps({ config: { ...rig.config, backupDir: await rig.newDir() } })).runOnce();
    if (source.status !== "ok") throw new Error(JSON.stringify(source));
    const dir = await rig.newDir();
    await mkdir(dir, { recursive: true });
    await plantBackup(source.path, dir, daysAgo(30 / 24));
    const backups = createBackups(deps({ alerter: rec, config: { ...rig.config, backupDir: dir, backupMaxAgeHours: 26 } }));
    expect(await backups.checkStaleness()).toBe(true);
    expect(await backups.checkStaleness()).toBe(true);
    expect(rec.raised("backup-stale"), "raised when it flips, not on every check").toHaveLength(1);
    expect(rec.raised("backup-stale")[0]?.detail).toMatch(/^newest good backup linkfort-\d{8}T\d{6}Z\.dump was taken 30\.\d hours ago/);
    expect(await backups.runOnce()).toMatchObject({ status: "ok" });
    expect(rec.resolved("backup-stale"), "stale resolves when it flips back").toHaveLength(1);
    expect(await backups.checkStaleness()).toBe(false);
  });

  test("a VM that loses the backup lock leaves staleness to the one that holds it", async () => {
    const rec = recordingAlerter();
    const source = await createBackups(deps({ config: { ...rig.config, backupDir: await rig.newDir() } })).runOnce();
    if (source.status !== "ok") throw new Error(JSON.stringify(source));
    const dir = await rig.newDir();
    await mkdir(dir, { recursive: true });
    await plantBackup(source.path, dir, daysAgo(30 / 24));
    const loser = createBackups(deps({ alerter: rec, config: { ...rig.config, backupDir: dir, backupMaxAgeHours: 26 } }));
    const holder = postgres(rig.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      await holder`select pg_advisory_lock(${BACKUP_LOCK_ID})`;
      expect(await loser.runOnce()).toMatchObject({ status: "skipped", reason: "locked" });
      expect(await loser.checkStaleness()).toBe(false);
      expect(rec.raised("backup-stale")).toHaveLength(0);
    } finally {
      await holder.end();
    }
  });

  test("an unreachable port (nothing listening) fails fast as connect", async () => {
    const url = new URL(rig.databaseUrl);
    url.port = String(await freePort());
    const backups = createBackups(deps({ databaseUrl: url.toString(), config: { ...rig.config, backupDir: await rig.newDir() } }));
    expect(await backups.runOnce()).toMatchObject({ status: "failed", stage: "connect" });
  });
});
