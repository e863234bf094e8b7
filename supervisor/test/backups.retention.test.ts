/**
 * Retention: old backups (real dumps planted under old timestamped names) go after a successful
 * backup, the newest good one never goes, and a failed round deletes nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, readdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort } from "../../service/test/ports.ts";
import { backupName, scanBackupDir, type BackupDirScan, type BackupEntry } from "../src/backups/backup-files.ts";
import { runBackupRound } from "../src/backups/backup-round.ts";
import { createBackups } from "../src/backups/backups.ts";
import { planPrune, pruneBackups } from "../src/backups/retention.ts";
import { backupRig, daysAgo, plantBackup, type BackupRig } from "./backups-harness.ts";

let rig: BackupRig;
let source: string;

beforeAll(async () => {
  rig = await backupRig();
  const result = await runBackupRound({ config: { ...rig.config, backupDir: await rig.newDir() }, databaseUrl: rig.databaseUrl, now: new Date() });
  if (result.status !== "ok") throw new Error(`setup backup failed: ${JSON.stringify(result)}`);
  source = result.path;
}, 30_000);
afterAll(async () => {
  await rig.close();
}, 30_000);

async function dirWith(ages: number[]): Promise<{ dir: string; names: string[] }> {
  const dir = await rig.newDir();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const names: string[] = [];
  const now = new Date();
  for (const days of ages) {
    const at = daysAgo(days, now);
    await plantBackup(source, dir, at);
    names.push(backupName(at));
  }
  return { dir, names };
}

const names = async (dir: string) => (await scanBackupDir(dir)).backups.map((b) => b.name);

describe("after a successful backup", () => {
  test("backups older than BACKUP_RETENTION_DAYS and day-old temp files are deleted with their sidecars; younger ones stay", async () => {
    const { dir, names: planted } = await dirWith([1, 6, 8, 30]);
    const young = planted.slice(0, 2);
    const strayOld = join(dir, ".linkfort-20200101T000000Z.dump.1234abcd.tmp");
    const strayNew = join(dir, ".linkfort-20990101T000000Z.dump.5678abcd.tmp");
    await writeFile(strayOld, "partial");
    await writeFile(strayNew, "partial");
    await utimes(strayOld, daysAgo(2), daysAgo(2));

    const backups = createBackups({ config: { ...rig.config, backupDir: dir, backupRetentionDays: 7 }, databaseUrl: rig.databaseUrl, alerter: rig.alerter, metrics: rig.metrics, logger: rig.logger });
    const result = await backups.runOnce();
    expect(result, JSON.stringify(result)).toMatchObject({ status: "ok" });
    if (result.status !== "ok") return;
    expect(result.pruned.sort(), "the 8- and 30-day-old backups").toEqual(planted.slice(2).sort());

    const left = await readdir(dir);
    expect(left.sort()).toEqual([
      ...[result.file, ...young].flatMap((n) => [n, `${n}.json`, `${n}.sha256`]),
      ".linkfort-20990101T000000Z.dump.5678abcd.tmp",
    ].sort());
  });

  test("the newest good backup stays even when it is older than the retention window", async () => {
    const { dir, names: planted } = await dirWith([20, 30, 40]);
    const removed = await pruneBackups(dir, { retentionDays: 7, now: new Date() });
    expect(removed.sort()).toEqual(planted.slice(1).sort());
    expect(await names(dir)).toEqual([planted[0]!]);
  });

  test("a newer backup that failed verification does not shield older ones, nor count as the one to keep", async () => {
    const { dir, names: planted } = await dirWith([20, 30]);
    const badName = backupName(daysAgo(10));
    await writeFile(join(dir, badName), "not an archive");
    const removed = await pruneBackups(dir, { retentionDays: 7, now: new Date() });
    expect(removed.sort()).toEqual([badName, planted[1]!].sort());
    expect(await names(dir), "the newest good one").toEqual([planted[0]!]);
  });
});

test("a failed backup deletes nothing, however old", async () => {
  const { dir, names: before } = await dirWith([10, 20, 30]);
  const url = new URL(rig.databaseUrl);
  url.port = String(await freePort());
  const backups = createBackups({ config: { ...rig.config, backupDir: dir, backupRetentionDays: 7 }, databaseUrl: url.toString(), alerter: rig.alerter, metrics: rig.metrics, logger: rig.logger });
  expect(await backups.runOnce()).toMatchObject({ status: "failed", stage: "connect" });
  expect((await names(dir)).sort()).toEqual(before.sort());
});

describe("planPrune (the rules alone)", () => {
  const now = new Date("2026-11-22T03:00:00Z");
  const entry = (days: number, good: boolean): BackupEntry => {
    const name = backupName(daysAgo(days, now));
    return { name, path: `/b/${name}`, createdAt: daysAgo(days, now), sizeBytes: 1, hasChecksum: good, meta: null, good };
  };
  const scan = (backups: BackupEntry[], extra: Partial<BackupDirScan> = {}): BackupDirScan =>
    ({ backups: [...backups].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime()), temps: [], orphans: [], ...extra });

  test("nothing is old: nothing goes", () => {
    expect(planPrune(scan([entry(0, true), entry(3, true)]), { retentionDays: 7, now })).toEqual([]);
  });

  test("exactly at the window edge stays; just past it goes", () => {
    const edge = entry(7, true);
    const past = { ...entry(7, true), createdAt: new Date(daysAgo(7, now).getTime() - 1000), path: "/b/past" };
    expect(planPrune(scan([entry(0, true), edge, past]), { retentionDays: 7, now })).toEqual(["/b/past", "/b/past.sha256", "/b/past.json"]);
  });

  test("all old and none good: all go (there is nothing good to keep)", () => {
    expect(planPrune(scan([entry(8, false), entry(9, false)]), { retentionDays: 7, now })).toHaveLength(6);
  });

  test("orphan sidecars go after the window; temp files after a day", () => {
    const plan = planPrune(scan([], {
      temps: [{ name: "t1", path: "/b/t1", mtime: daysAgo(2, now) }, { name: "t2", path: "/b/t2", mtime: daysAgo(0.5, now) }],
      orphans: [{ name: "o1", path: "/b/o1", mtime: daysAgo(8, now) }, { name: "o2", path: "/b/o2", mtime: daysAgo(1, now) }],
    }), { retentionDays: 7, now });
    expect(plan.sort()).toEqual(["/b/o1", "/b/t1"]);
  });
});
