/**
 * Backups against the real test PostgreSQL with the real pg_dump/pg_restore: the schedule, what a
 * good backup consists of, verification, and the advisory lock between "VMs" (alerts: backups.alerts.test.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import postgres from "postgres";
import { checksumPath, metaPath, readMeta, scanBackupDir } from "../src/backups/backup-files.ts";
import { createBackups, type BackupsDeps } from "../src/backups/backups.ts";
import { BACKUP_LOCK_ID } from "../src/backups/lock.ts";
import { findPgTools } from "../src/backups/pg-tools.ts";
import { verifyBackupFile } from "../src/backups/verify.ts";
import { waitFor } from "../../service/test/wait.ts";
import { backupRig, rigDeps, metricValue, plantBackup, serviceCounts, type BackupRig } from "./backups-harness.ts";

let rig: BackupRig;

beforeAll(async () => {
  rig = await backupRig();
}, 30_000);
afterAll(async () => {
  await rig.close();
}, 30_000);

const deps = (overrides: Partial<BackupsDeps> = {}) => rigDeps(rig, overrides);

describe("scheduled backup", () => {
  test("a one-second schedule writes a dump, a sha256sum-compatible sidecar and a verified listing; stop() ends it", async () => {
    const dir = await rig.newDir();
    const backups = createBackups(deps({ config: { ...rig.config, backupDir: dir, backupSchedule: "* * * * * *" } }));
    backups.start();
    try {
      expect(backups.snapshot().next_run_at, "next run is announced while scheduled").not.toBeNull();
      const file = await waitFor("the first scheduled backup", () => backups.snapshot().files.find((f) => f.verified), 15_000, { everyMs: 50 });
      expect(file.name).toMatch(/^linkfort-\d{8}T\d{6}Z\.dump$/);
      const path = join(dir, file.name);
      expect((await stat(dir)).mode & 0o777, "BACKUP_DIR is private").toBe(0o700);
      expect((await stat(path)).mode & 0o777, "the dump is private").toBe(0o600);

      // The sidecar is sha256sum's own format: the standard tool checks it from the folder.
      const check = Bun.spawnSync(["sha256sum", "-c", `${file.name}.sha256`], { cwd: dir });
      expect(check.exitCode, check.stderr.toString() + check.stdout.toString()).toBe(0);

      const meta = await readMeta(path);
      expect(meta?.verified, JSON.stringify(meta)).toBe(true);
      expect(meta?.toc_entries).toBeGreaterThan(10);
      expect(meta?.row_counts).toMatchObject(await serviceCounts(rig.databaseUrl));
      expect(meta?.row_counts["public.users"]).toBe(400);

      const snap = backups.snapshot();
      expect(snap.last_success_at).not.toBeNull();
      expect(snap.last_size_bytes).toBe(file.size_bytes);
      expect(await metricValue(rig.metrics.backupSize)).toBe(file.size_bytes);
      expect(await metricValue(rig.metrics.backupLastSuccess)).toBeGreaterThan(0);
    } finally {
      await backups.stop();
    }
    expect(backups.snapshot().next_run_at, "nothing scheduled after stop()").toBeNull();
    const after = await backups.runOnce();
    expect(after, "a stopped part takes no more backups").toMatchObject({ status: "skipped", reason: "stopping" });
  });
});

describe("verify", () => {
  let good: string;
  beforeAll(async () => {
    const result = await createBackups(deps({ config: { ...rig.config, backupDir: await rig.newDir() } })).runOnce();
    if (result.status !== "ok") throw new Error(`setup backup failed: ${JSON.stringify(result)}`);
    good = result.path;
  }, 30_000);
  const tools = async () => {
    const found = await findPgTools(15, undefined);
    if (!found.ok) throw new Error(found.error);
    return found.tools;
  };

  test("a good backup verifies", async () => {
    expect(await verifyBackupFile(await tools(), good)).toMatchObject({ ok: true });
  });

  test("one flipped byte in the middle of the file is a checksum mismatch", async () => {
    const path = await plantBackup(good, join(good, ".."), new Date(Date.now() + 10_000));
    const bytes = new Uint8Array(await readFile(path));
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await writeFile(path, bytes);
    const result = await verifyBackupFile(await tools(), path);
    expect(result, JSON.stringify(result)).toMatchObject({ ok: false, problem: "checksum-mismatch" });
  });

  test("a sidecar that names another digest is a checksum mismatch", async () => {
    const path = await plantBackup(good, join(good, ".."), new Date(Date.now() + 20_000));
    await writeFile(checksumPath(path), `${"0".repeat(64)}  x.dump\n`);
    expect(await verifyBackupFile(await tools(), path)).toMatchObject({ ok: false, problem: "checksum-mismatch" });
  });

  test("a corrupted archive whose sidecar was rewritten to match is caught by pg_restore --list", async () => {
    const path = await plantBackup(good, join(good, ".."), new Date(Date.now() + 30_000));
    const bytes = new Uint8Array(await readFile(path));
    bytes[0]! ^= 0xff; // the "PGDMP" magic
    await writeFile(path, bytes);
    const digest = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
    await writeFile(checksumPath(path), `${digest}  x.dump\n`);
    const result = await verifyBackupFile(await tools(), path);
    expect(result, JSON.stringify(result)).toMatchObject({ ok: false, problem: "unreadable-archive" });
  });

  test("a file without its sidecar is not verified", async () => {
    const path = await plantBackup(good, join(good, ".."), new Date(Date.now() + 40_000));
    await Bun.file(checksumPath(path)).delete();
    expect(await verifyBackupFile(await tools(), path)).toMatchObject({ ok: false, problem: "no-checksum" });
  });
});

describe("one runner across VMs (advisory lock)", () => {
  test("two supervisors backing up the same database at once make exactly one dump", async () => {
    const [dirA, dirB] = [await rig.newDir(), await rig.newDir()];
    const vmA = createBackups(deps({ config: { ...rig.config, backupDir: dirA } }));
    const vmB = createBackups(deps({ config: { ...rig.config, backupDir: dirB } }));
    const results = await Promise.all([vmA.runOnce(), vmB.runOnce()]);
    expect(results.map((r) => r.status).sort(), JSON.stringify(results)).toEqual(["ok", "skipped"]);
    expect(results.find((r) => r.status === "skipped")).toMatchObject({ reason: "locked" });
    const dumps = [...(await scanBackupDir(dirA)).backups, ...(await scanBackupDir(dirB)).backups];
    expect(dumps.map((d) => d.name), "one dump in all").toHaveLength(1);
  });

  test("while another session holds the lock the round is skipped, not failed; afterwards it runs", async () => {
    const dir = await rig.newDir();
    const backups = createBackups(deps({ config: { ...rig.config, backupDir: dir } }));
    const other = postgres(rig.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      await other`select pg_advisory_lock(${BACKUP_LOCK_ID})`;
      const failuresBefore = await metricValue(rig.metrics.backupFailures);
      const skipped = await backups.runOnce();
      expect(skipped).toMatchObject({ status: "skipped", reason: "locked" });
      expect((await scanBackupDir(dir)).backups).toHaveLength(0);
      expect(await metricValue(rig.metrics.backupFailures), "a lost lock is no failure").toBe(failuresBefore);
      await other`select pg_advisory_unlock(${BACKUP_LOCK_ID})`;
      expect(await backups.runOnce()).toMatchObject({ status: "ok" });
    } finally {
      await other.end();
    }
  });
});


test("the metadata sidecar is valid JSON next to every dump", async () => {
  const dir = await rig.newDir();
  const result = await createBackups(deps({ config: { ...rig.config, backupDir: dir } })).runOnce();
  if (result.status !== "ok") throw new Error(JSON.stringify(result));
  const meta = JSON.parse(await readFile(metaPath(result.path), "utf8"));
  expect(meta).toMatchObject({ format: 1, verified: true, sha256: result.sha256, size_bytes: result.sizeBytes, database: rig.databaseName });
});
