/**
 * Backups of a cluster (issue 16) against a real primary + streaming hot standby
 * (service/test/pg-standby.ts) and the real pg_dump/pg_restore: the dump is read from the standby
 * when it is healthy, from the primary when it is behind or gone (and the log line says why), the
 * restore drill passes on the standby's dump, and two supervisors still make one dump per round.
 *
 * The cluster URL lists the standby first, so a client that ignored target_session_attrs would
 * take the backup lock on the standby, where it excludes nobody.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { scanBackupDir, readMeta } from "../src/backups/backup-files.ts";
import { runBackupRound, type BackupResult } from "../src/backups/backup-round.ts";
import { createBackups } from "../src/backups/backups.ts";
import { runBackupCommand } from "../src/backups/cli.ts";
import { findPgTools } from "../src/backups/pg-tools.ts";
import { runRestoreCheck } from "../src/backups/restore-check.ts";
import { verifyBackupFile } from "../src/backups/verify.ts";
import { migrate } from "../../service/src/db/migrate.ts";
import { startPrimaryAndStandby, type PgPair } from "../../service/test/pg-standby.ts";
import { backupRig, rigDeps, seed, withSql, type BackupRig } from "./backups-harness.ts";

const DB = "linkfort";
let pair: PgPair;
let rig: BackupRig;
let clusterUrl: string;

beforeAll(async () => {
  // hot_standby_feedback on, as docs/RUNBOOK.md asks of the cluster: without it no standby qualifies.
  pair = await startPrimaryAndStandby({ settings: { hot_standby_feedback: "on" } });
  await withSql(pair.primaryUrl(), (sql) => sql.unsafe(`create database ${DB}`));
  const migrating = postgres(pair.primaryUrl(DB), { max: 2, onnotice: () => {} }); // migrate() reserves one for its lock
  await migrate(migrating).finally(() => migrating.end());
  await seed(pair.primaryUrl(DB));
  clusterUrl = pair.clusterUrl(DB);
  rig = await backupRig(); // its config, logger and folders; its own database stays unused here
}, 180_000);
afterAll(async () => {
  await rig?.close();
  await pair?.stop();
}, 60_000);

const standby = () => `127.0.0.1:${pair.standbyPort}`;
const primary = () => `127.0.0.1:${pair.primaryPort}`;

/** A link written on the primary just before the round, never waited for on the standby. */
async function addLink(code: string): Promise<number> {
  return withSql(pair.primaryUrl(DB), async (sql) => {
    await sql`insert into urls (short_code, original_url, user_id) select ${code}, 'https://example.org/' || ${code}, min(id) from users`;
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from urls`;
    return row!.n;
  });
}

const ok = (r: BackupResult) => {
  if (r.status !== "ok") throw new Error(`backup not ok: ${JSON.stringify(r)}`);
  return r;
};

describe("a cluster with a healthy standby", () => {
  test("the round dumps from the standby (metadata says so), with a write made just before it; the dump verifies and the restore drill passes", async () => {
    const urls = await addLink("just-before");
    const dir = await rig.newDir();
    const result = ok(await runBackupRound({ config: { ...rig.config, backupDir: dir }, databaseUrl: clusterUrl, now: new Date() }));
    expect(result.source).toMatchObject({ server: standby(), role: "standby" });
    expect(result.source.reason).toContain(`standby ${standby()} replayed the primary's WAL up to`);

    const meta = await readMeta(result.path);
    expect(meta?.source).toEqual(result.source);
    // The standby replayed up to the primary's position at the round's start: the last write is in.
    expect(meta?.row_counts["public.urls"]).toBe(urls);

    const tools = await findPgTools(15, rig.config.pgBinDir);
    if (!tools.ok) throw new Error(tools.error);
    expect(await verifyBackupFile(tools.tools, result.path)).toMatchObject({ ok: true });

    const lines: string[] = [];
    expect(await runBackupCommand(["list"], { config: { ...rig.config, backupDir: dir }, databaseUrl: clusterUrl, logger: rig.logger, out: (l) => lines.push(l) })).toBe(0);
    expect(lines[0]).toEndWith(" FROM");
    expect(lines[1]).toStartWith(result.file);
    expect(lines[1]).toEndWith(` ${standby()} standby`);

    const drill = await runRestoreCheck({ config: { ...rig.config, backupDir: dir }, databaseUrl: clusterUrl, now: new Date() });
    expect(drill, JSON.stringify(drill)).toMatchObject({ status: "ok", file: result.file });
    if (drill.status === "ok") expect(drill.rows).toBe(Object.values(meta!.row_counts).reduce((a, b) => a + b, 0));
  }, 120_000);

  test("two supervisors in one round make one dump: the lock is taken on the primary", async () => {
    const [dirA, dirB] = [await rig.newDir(), await rig.newDir()];
    const vmA = createBackups(rigDeps(rig, { databaseUrl: clusterUrl, config: { ...rig.config, backupDir: dirA } }));
    // The other VM lists the hosts the other way round: a lock taken on the first host of each
    // URL would be one on the standby and one on the primary, and both would dump.
    const vmB = createBackups(rigDeps(rig, { databaseUrl: pair.clusterUrl(DB, ["primary", "standby"]), config: { ...rig.config, backupDir: dirB } }));
    const results = await Promise.all([vmA.runOnce(), vmB.runOnce()]);
    expect(results.map((r) => r.status).sort(), JSON.stringify(results)).toEqual(["ok", "skipped"]);
    expect(results.find((r) => r.status === "ok")).toMatchObject({ source: { server: standby(), role: "standby" } });
    // What /status shows of the VM that took it.
    const taker = results[0]!.status === "ok" ? vmA : vmB;
    expect(taker.snapshot().files.map((f) => f.source)).toEqual([`${standby()} standby`]);
    const dumps = [...(await scanBackupDir(dirA)).backups, ...(await scanBackupDir(dirB)).backups];
    expect(dumps.map((d) => d.name), "one dump in all").toHaveLength(1);
  }, 120_000);

  test("a dump the standby cancels (recovery conflict) is taken again from the primary in the same round", async () => {
    // DDL replayed on the standby conflicts with the dump's locks; with max_standby_streaming_delay 0
    // the standby cancels the dump at once instead of after 30 s (what hot_standby_feedback cannot prevent).
    await withSql(pair.primaryUrl(DB), (sql) => sql`create table churn (id int)`);
    const standbySql = postgres(pair.standbyUrl(), { max: 1, onnotice: () => {} });
    await standbySql`alter system set max_standby_streaming_delay = 0`;
    await standbySql`select pg_reload_conf()`;
    await pair.waitReplayed(60_000);
    let churning = true;
    const churn = (async () => {
      const sql = postgres(pair.primaryUrl(DB), { max: 1, onnotice: () => {} });
      // Bounded; each pass waits at most lock_timeout for a dump on the primary to let go.
      for (let i = 0; churning && i < 200_000; i++) {
        await sql.begin(async (tx) => {
          await tx`set local lock_timeout = '50ms'`;
          await tx`alter table churn add column x int`;
          await tx`alter table churn drop column x`;
        }).catch(() => {});
      }
      await sql.end();
    })();
    try {
      const result = ok(await runBackupRound({ config: { ...rig.config, backupDir: await rig.newDir() }, databaseUrl: clusterUrl, now: new Date() }));
      expect(result.source).toMatchObject({ server: primary(), role: "primary" });
      expect(result.source.reason).toStartWith(`the dump from standby ${standby()} failed (`);
      expect((await readMeta(result.path))?.source).toEqual(result.source);
    } finally {
      churning = false;
      await churn;
      await standbySql`alter system reset max_standby_streaming_delay`;
      await standbySql`select pg_reload_conf()`;
      await standbySql.end();
      await withSql(pair.primaryUrl(DB), (sql) => sql`drop table churn`);
    }
    await pair.waitReplayed(60_000);
  }, 120_000);

  test("a URL that reaches only the standby is refused: a lock there would exclude no one", async () => {
    const result = await runBackupRound({ config: { ...rig.config, backupDir: await rig.newDir() }, databaseUrl: pair.standbyUrl(DB), now: new Date() });
    expect(result).toMatchObject({ status: "failed", stage: "connect" });
    if (result.status === "failed") expect(result.error).toContain("reached a hot standby");
  }, 60_000);
});

describe("without a healthy standby the round dumps from the primary and its log line says why", () => {
  /** One round through the daemon's backups part; returns its result and its "backup done" log line. */
  async function roundThroughDaemon(maxReplayLagMs: number): Promise<{ result: BackupResult; line: Record<string, unknown> | undefined; dir: string }> {
    const dir = await rig.newDir();
    const seen = rig.logs.length;
    const backups = createBackups(rigDeps(rig, { databaseUrl: clusterUrl, config: { ...rig.config, backupDir: dir }, maxReplayLagMs }));
    const result = await backups.runOnce();
    await backups.stop();
    return { result, line: rig.logs.slice(seen).find((l) => l.msg === "backup done"), dir };
  }

  test("standby far behind (its replay held back an hour): dumped from the primary, with the write the standby lacks", async () => {
    const standbySql = postgres(pair.standbyUrl(), { max: 1, onnotice: () => {} });
    try {
      await standbySql`alter system set recovery_min_apply_delay = '1h'`;
      await standbySql`select pg_reload_conf()`;
      const urls = await addLink("while-behind");
      const { result, line } = await roundThroughDaemon(1_000);
      const done = ok(result);
      expect(done.source).toMatchObject({ server: primary(), role: "primary" });
      expect(done.source.reason).toMatch(new RegExp(`^no healthy standby: standby ${standby().replaceAll(".", "\\.")} had replayed only to \\S+ of \\S+ after 1 s$`));
      expect(line, "the log line names the server and the reason").toMatchObject({ from: `${primary()} primary`, from_reason: done.source.reason });
      expect((await readMeta(done.path))?.row_counts["public.urls"]).toBe(urls);
    } finally {
      await standbySql`alter system reset recovery_min_apply_delay`;
      await standbySql`select pg_reload_conf()`;
      await standbySql.end();
    }
    await pair.waitReplayed(60_000);
  }, 120_000);

  test("standby paused: dumped from the primary at once", async () => {
    const standbySql = postgres(pair.standbyUrl(), { max: 1, onnotice: () => {} });
    try {
      await standbySql`select pg_wal_replay_pause()`;
      const { result, line } = await roundThroughDaemon(60_000);
      expect(ok(result).source).toMatchObject({ role: "primary", reason: `no healthy standby: standby ${standby()} has its replay paused` });
      expect(line).toMatchObject({ from: `${primary()} primary` });
    } finally {
      await standbySql`select pg_wal_replay_resume()`;
      await standbySql.end();
    }
  }, 120_000);

  test("standby stopped: dumped from the primary, the reason names the unreachable standby; the restore drill passes", async () => {
    await pair.stopStandby();
    const { result, line, dir } = await roundThroughDaemon(1_000);
    const done = ok(result);
    expect(done.source).toMatchObject({ server: primary(), role: "primary" });
    expect(done.source.reason).toStartWith(`no healthy standby: ${standby()} unreachable (`);
    expect(line).toMatchObject({ from: `${primary()} primary`, from_reason: done.source.reason });
    const drill = await runRestoreCheck({ config: { ...rig.config, backupDir: dir }, databaseUrl: clusterUrl, now: new Date() });
    expect(drill, JSON.stringify(drill)).toMatchObject({ status: "ok", file: done.file });
  }, 120_000);
});
