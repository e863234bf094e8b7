/**
 * Scratch databases of an interrupted restore check (the supervisor killed mid-check, the machine
 * rebooted) are dropped when the supervisor starts and before each check; a check that may still
 * be running (recent, or with a session open) is left alone.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { adminUrl, databaseUrl } from "../../service/test/pg.ts";
import { waitFor } from "../../service/test/wait.ts";
import { createBackups } from "../src/backups/backups.ts";
import { runBackupRound } from "../src/backups/backup-round.ts";
import { runRestoreCheck, SCRATCH_PREFIX } from "../src/backups/restore-check.ts";
import { scratchDatabaseName } from "../src/backups/restore.ts";
import { backupRig, databasesLike, withSql, type BackupRig } from "./backups-harness.ts";

let rig: BackupRig;
const suffix = crypto.randomUUID().slice(0, 4);
const stale = (tag: string) => `${SCRATCH_PREFIX}_20200101t000000z_${tag}${suffix}`;
const made: string[] = [];
const create = (name: string) => { made.push(name); return withSql(adminUrl(), (sql) => sql.unsafe(`create database ${name}`)); };

beforeAll(async () => { rig = await backupRig(); }, 30_000);
afterAll(async () => {
  await withSql(adminUrl(), async (sql) => { for (const name of made) await sql.unsafe(`drop database if exists ${name} with (force)`); });
  await rig.close();
}, 30_000);

// Regression: a restore check interrupted between CREATE DATABASE and its DROP left a full copy of
// the data behind for good; nothing ever looked for it.
describe("leftover restore-check databases", () => {
  test("an old, unused one is dropped before the check; a recent one and one in use are kept", async () => {
    const [old, busy, recent] = [stale("a"), stale("b"), scratchDatabaseName(SCRATCH_PREFIX, new Date())];
    for (const name of [old, busy, recent]) await create(name);
    const session = postgres(databaseUrl(busy), { max: 1 });
    try {
      await session`select 1`;
      expect((await runBackupRound({ config: rig.config, databaseUrl: rig.databaseUrl, now: new Date() })).status).toBe("ok");
      const check = await runRestoreCheck({ config: rig.config, databaseUrl: rig.databaseUrl, now: new Date() });
      expect(check.status, JSON.stringify(check)).toBe("ok");
      const left = await databasesLike(SCRATCH_PREFIX);
      expect(left).not.toContain(old);
      expect(left).toContain(busy);
      expect(left).toContain(recent);
    } finally {
      await session.end();
    }
  }, 60_000);

  test("the supervisor's backup part drops them when it starts", async () => {
    const old = stale("c");
    await create(old);
    const backups = createBackups({ config: rig.config, databaseUrl: rig.databaseUrl, alerter: rig.alerter, metrics: rig.metrics, logger: rig.logger });
    backups.start();
    try {
      const logged = await waitFor("the drop to be logged", () => rig.logs.find((l) => l.msg === "dropped leftover restore-check databases"), 20_000);
      // The first test's "in use" one counts too now that its session has closed.
      expect((logged as { databases: string[] }).databases).toContain(old);
      expect(await databasesLike(SCRATCH_PREFIX)).not.toContain(old);
    } finally {
      await backups.stop();
    }
  }, 30_000);
});
