/**
 * Restores with the real pg_restore: into a new database (the default), the scheduled restore
 * check into a scratch database with row counts compared, and into the live database.
 */
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { dropDatabase } from "../../service/test/pg.ts";
import { metaPath, type BackupMeta } from "../src/backups/backup-files.ts";
import { runBackupRound } from "../src/backups/backup-round.ts";
import { createBackups, type Backups } from "../src/backups/backups.ts";
import { findPgTools, type PgTools } from "../src/backups/pg-tools.ts";
import { SCRATCH_PREFIX } from "../src/backups/restore-check.ts";
import { restoreBackup } from "../src/backups/restore.ts";
import { backupRig, clearedAfterRaise, databasesLike, plantBackup, serviceCounts, withSql, type BackupRig } from "./backups-harness.ts";
import { recordingAlerter, type RecordingAlerter } from "./recording-alerter.ts";

let rig: BackupRig;
let tools: PgTools;
let backupPath: string;

async function freshBackup(dir?: string): Promise<string> {
  const result = await runBackupRound({ config: { ...rig.config, backupDir: dir ?? await rig.newDir() }, databaseUrl: rig.databaseUrl, now: new Date() });
  if (result.status !== "ok") throw new Error(`backup failed: ${JSON.stringify(result)}`);
  return result.path;
}

beforeAll(async () => {
  rig = await backupRig();
  const found = await findPgTools(15, undefined);
  if (!found.ok) throw new Error(found.error);
  tools = found.tools;
  backupPath = await freshBackup();
}, 30_000);
afterAll(async () => {
  await rig.close();
}, 30_000);

describe("restore into a new database", () => {
  test("gives the same rows per table as the source", async () => {
    const result = await restoreBackup({ tools, file: backupPath, databaseUrl: rig.databaseUrl, target: { kind: "new", database: "linkfort_restore_test_a" } });
    expect(result, JSON.stringify(result)).toMatchObject({ ok: true, database: "linkfort_restore_test_a" });
    try {
      if (!result.ok) return;
      expect(await serviceCounts(result.url)).toEqual(await serviceCounts(rig.databaseUrl));
      const sample = (url: string) => withSql(url, (sql) => sql`select id, short_code, original_url from urls order by id limit 5`);
      expect(await sample(result.url)).toEqual(await sample(rig.databaseUrl));
    } finally {
      await dropDatabase("linkfort_restore_test_a");
    }
  });

  test("a file that fails its checksum is refused before any database is created", async () => {
    const path = await plantBackup(backupPath, join(backupPath, ".."), new Date(Date.now() + 5_000));
    const bytes = new Uint8Array(await readFile(path));
    bytes[bytes.length - 100]! ^= 0x01;
    await writeFile(path, bytes);
    const result = await restoreBackup({ tools, file: path, databaseUrl: rig.databaseUrl, target: { kind: "new", database: "linkfort_restore_test_b" } });
    expect(result).toMatchObject({ ok: false, stage: "checksum" });
    expect(await databasesLike("linkfort_restore_test_b")).toEqual([]);
  });
});

describe("restore check (scratch database, row counts)", () => {
  let alerter: RecordingAlerter;
  let backups: Backups;
  let dir: string;
  beforeAll(async () => {
    alerter = recordingAlerter();
    dir = await rig.newDir();
    backups = createBackups({ config: { ...rig.config, backupDir: dir }, databaseUrl: rig.databaseUrl, alerter, metrics: rig.metrics, logger: rig.logger });
  }, 30_000);

  test("with no backup yet it is skipped, not failed", async () => {
    expect(await backups.restoreCheckOnce()).toMatchObject({ status: "skipped", reason: "no-backup" });
    expect(alerter.raised("restore-check-failed")).toHaveLength(0);
  });

  test("the newest backup restores with the counts taken at dump time; the scratch database is dropped", async () => {
    await freshBackup(dir);
    const result = await backups.restoreCheckOnce();
    // Every table that holds rows (a partitioned table's are in its partitions) of the service's
    // schema plus drizzle's migration journal, however many there are now.
    const source = postgres(rig.databaseUrl, { max: 1, onnotice: () => {} });
    const [row] = await source<{ n: number }[]>`
      select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname in ('public', 'drizzle') and c.relkind = 'r'`;
    await source.end();
    const tables = row!.n;
    expect(tables).toBeGreaterThan(5);
    expect(result, JSON.stringify(result)).toMatchObject({ status: "ok", tables });
    if (result.status === "ok") expect(result.database.startsWith(`${SCRATCH_PREFIX}_`)).toBe(true);
    expect(await databasesLike(SCRATCH_PREFIX)).toEqual([]);
  });

  test("a count that differs fails the check, raises restore-check-failed, and still drops the scratch database", async () => {
    const path = await freshBackup(dir);
    const meta = JSON.parse(await readFile(metaPath(path), "utf8")) as BackupMeta;
    const users = meta.row_counts["public.users"]!;
    meta.row_counts["public.users"] = users + 1;
    await writeFile(metaPath(path), JSON.stringify(meta));
    const result = await backups.restoreCheckOnce();
    expect(result, JSON.stringify(result)).toMatchObject({
      status: "failed", mismatches: [{ table: "public.users", expected: users + 1, actual: users }],
    });
    expect(alerter.raised("restore-check-failed")).toHaveLength(1);
    expect(alerter.raised("restore-check-failed")[0]?.detail).toContain("public.users expected");
    expect(await databasesLike(SCRATCH_PREFIX)).toEqual([]);

    await freshBackup(dir);
    expect(await backups.restoreCheckOnce()).toMatchObject({ status: "ok" });
    expect(clearedAfterRaise(alerter, "restore-check-failed"), JSON.stringify(alerter.calls)).toBe(true);
  });
});

test("rows written while the dump runs do not upset the check: counts come from the dump's own snapshot", async () => {
  const dir = await rig.newDir();
  let writing = true;
  let inserted = 0;
  // Bounded: stops when the backup is done, or after 2000 rows whatever happens.
  const writer = withSql(rig.databaseUrl, async (sql) => {
    for (let i = 0; writing && i < 2000; i++) {
      await sql`insert into retired_codes (code) values (${`snap${i}`})`;
      inserted++;
    }
  });
  const path = await freshBackup(dir);
  writing = false;
  await writer;
  expect(inserted, "the writer ran alongside the dump").toBeGreaterThan(0);
  const backups = createBackups({ config: { ...rig.config, backupDir: dir }, databaseUrl: rig.databaseUrl, alerter: recordingAlerter(), metrics: rig.metrics, logger: rig.logger });
  const result = await backups.restoreCheckOnce();
  expect(result, JSON.stringify(result)).toMatchObject({ status: "ok", file: path.split("/").pop() });
});

test("restore into the live database replaces what changed since the dump, in one transaction", async () => {
  const path = await freshBackup();
  const before = await serviceCounts(rig.databaseUrl);
  await withSql(rig.databaseUrl, async (sql) => {
    await sql`insert into users (username, email) values ('after-dump', 'after@example.com')`;
    await sql`update urls set title = 'changed after dump' where id = 1`;
    await sql`delete from retired_codes`;
  });
  const result = await restoreBackup({ tools, file: path, databaseUrl: rig.databaseUrl, target: { kind: "live" } });
  expect(result, JSON.stringify(result)).toMatchObject({ ok: true, database: rig.databaseName });
  expect(await serviceCounts(rig.databaseUrl)).toEqual(before);
  const [row] = await withSql(rig.databaseUrl, (sql) => sql<{ title: string | null }[]>`select title from urls where id = 1`);
  expect(row?.title).not.toBe("changed after dump");
});
