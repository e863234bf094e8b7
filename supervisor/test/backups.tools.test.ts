/**
 * Finding the pg_dump/pg_restore that match the server's major version, and failing clearly when
 * there is none. The real Debian tools are found; the mismatch cases use small scripts that
 * print another version (a stand-in for an old client, not for PostgreSQL).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBackups } from "../src/backups/backups.ts";
import { findPgTools, parseToolVersion } from "../src/backups/pg-tools.ts";
import { backupRig, type BackupRig } from "./backups-harness.ts";
import { recordingAlerter } from "./recording-alerter.ts";

let rig: BackupRig;
let scratch: string;

beforeAll(async () => {
  rig = await backupRig();
  scratch = await mkdtemp(join(tmpdir(), "linkfort-pgtools-"));
}, 30_000);
afterAll(async () => {
  await rig.close();
  await rm(scratch, { recursive: true, force: true });
}, 30_000);

async function fakeClientDir(version: string): Promise<string> {
  const dir = await mkdtemp(join(scratch, "bin-"));
  for (const tool of ["pg_dump", "pg_restore"]) {
    await writeFile(join(dir, tool), `#!/bin/sh\necho "${tool} (PostgreSQL) ${version}"\n`);
    await chmod(join(dir, tool), 0o755);
  }
  return dir;
}

test("parseToolVersion reads Debian's and plain version lines", () => {
  expect(parseToolVersion("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n")).toEqual({ major: 15, version: "15.18 (Debian 15.18-0+deb12u1)" });
  expect(parseToolVersion("pg_restore (PostgreSQL) 16.2")).toEqual({ major: 16, version: "16.2" });
  expect(parseToolVersion("something else")).toBeNull();
});

describe("findPgTools", () => {
  test("the server's major (15) finds Debian's folder", async () => {
    const found = await findPgTools(15, undefined);
    expect(found).toMatchObject({ ok: true, tools: { pgDump: "/usr/lib/postgresql/15/bin/pg_dump", pgRestore: "/usr/lib/postgresql/15/bin/pg_restore", major: 15 } });
  });

  test("PG_BIN_DIR is used when it matches", async () => {
    expect(await findPgTools(15, "/usr/lib/postgresql/15/bin")).toMatchObject({ ok: true });
  });

  test("no match anywhere: the message names the server's major and what was found where", async () => {
    const found = await findPgTools(99, undefined);
    expect(found.ok).toBe(false);
    if (found.ok) return;
    expect(found.error).toContain("no pg_dump/pg_restore for PostgreSQL 99");
    expect(found.error).toContain("/usr/lib/postgresql/99/bin: pg_dump missing");
    expect(found.error).toMatch(/PATH \S+: pg_dump 15\.\d+/);
    expect(found.error).toContain("install postgresql-client-99 or set PG_BIN_DIR");
  });

  test("a PG_BIN_DIR of another major is refused, naming the version it holds", async () => {
    const dir = await fakeClientDir("14.11");
    const found = await findPgTools(15, dir);
    expect(found).toEqual({
      ok: false,
      error: `no pg_dump/pg_restore for PostgreSQL 15 (the server's major version); found PG_BIN_DIR ${dir}: pg_dump 14.11, pg_restore 14.11; point PG_BIN_DIR at version 15's bin folder`,
    });
  });

  test("an empty PG_BIN_DIR says the tools are missing", async () => {
    const dir = await mkdtemp(join(scratch, "empty-"));
    const found = await findPgTools(15, dir);
    expect(found.ok ? "" : found.error).toContain(`PG_BIN_DIR ${dir}: pg_dump missing, pg_restore missing`);
  });
});

test("a backup round with mismatched tools fails at the tools stage and raises backup-failed", async () => {
  const alerter = recordingAlerter();
  const backups = createBackups({
    config: { ...rig.config, backupDir: await rig.newDir(), pgBinDir: await fakeClientDir("14.11") },
    databaseUrl: rig.databaseUrl, alerter, metrics: rig.metrics, logger: rig.logger,
  });
  const result = await backups.runOnce();
  expect(result, JSON.stringify(result)).toMatchObject({ status: "failed", stage: "tools" });
  expect(alerter.raised("backup-failed")[0]?.detail).toContain("pg_dump 14.11");
  expect(alerter.raised("database-unreachable")).toHaveLength(0);
  expect(backups.snapshot().last_error).toContain("tools: no pg_dump/pg_restore for PostgreSQL 15");
});
