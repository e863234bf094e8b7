/**
 * The VM layout of database roles: the service's role may not create databases (no CREATEDB);
 * the supervisor connects as its own role, which may, and is a member of the service's role so it
 * can dump and replace the service's tables. Every restore leaves the tables owned by the
 * service's role, so the service can use them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { connect } from "../../service/src/db/client.ts";
import { migrate } from "../../service/src/db/migrate.ts";
import { adminUrl } from "../../service/test/pg.ts";
import { runBackupRound } from "../src/backups/backup-round.ts";
import { runBackupCommand } from "../src/backups/cli.ts";
import { runRestoreCheck } from "../src/backups/restore-check.ts";
import { testSupervisorConfig } from "../src/config.ts";
import { createLogger } from "../../service/src/lib/logger.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withSql } from "./backups-harness.ts";

const tag = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
const [app, sup, dbName] = [`lfapp_${tag}`, `lfsup_${tag}`, `t_roles_${tag}`];
const urlFor = (user: string, database = dbName) => {
  const url = new URL(adminUrl());
  Object.assign(url, { username: user, password: "pw", pathname: `/${database}` });
  return url.toString();
};
let dir = "";
const made: string[] = [dbName];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "linkfort-roles-"));
  await withSql(adminUrl(), async (sql) => {
    await sql.unsafe(`create role ${app} login nocreatedb password 'pw'`);
    await sql.unsafe(`create role ${sup} login createdb password 'pw'`);
    await sql.unsafe(`grant ${app} to ${sup}`);
    await sql.unsafe(`create database ${dbName} owner ${app} template template0`);
  });
  const { sql } = connect({ url: urlFor(app), poolMax: 2, statementTimeoutMs: 60_000, applicationName: "roles-test-migrate" });
  try {
    await migrate(sql);
    await sql`insert into users (username, email) values ('owner-test', 'owner@example.com')`;
  } finally {
    await sql.end();
  }
}, 60_000);
afterAll(async () => {
  await withSql(adminUrl(), async (sql) => {
    const extra = await sql<{ d: string }[]>`select datname as d from pg_database where datname like 'linkfort_restore%' and pg_get_userbyid(datdba) in (${app}, ${sup})`;
    for (const name of [...made, ...extra.map((r) => r.d)]) await sql.unsafe(`drop database if exists ${name} with (force)`);
    for (const role of [sup, app]) await sql.unsafe(`drop role if exists ${role}`);
  });
  await rm(dir, { recursive: true, force: true });
}, 30_000);

const owners = (url: string) => withSql(url, (sql) => sql<{ owner: string }[]>`select distinct tableowner as owner from pg_tables where schemaname = 'public'`)
  .then((rows) => rows.map((r) => r.owner));

// Regression: the app's role had CREATEDB only because the restore check creates a scratch
// database; with the supervisor on a role of its own, a restore recreated the tables as the
// supervisor's role and the service lost access to its own data.
describe("a supervisor on its own role", () => {
  test("backs up, checks, and restores into the live database; the tables stay the service's", async () => {
    const config = testSupervisorConfig({ backupDir: join(dir, "backups"), backupMinFreeMb: 1 });
    const backup = await runBackupRound({ config, databaseUrl: urlFor(sup), now: new Date() });
    expect(backup.status, JSON.stringify(backup)).toBe("ok");
    const check = await runRestoreCheck({ config, databaseUrl: urlFor(sup), now: new Date() });
    expect(check.status, JSON.stringify(check)).toBe("ok");

    const out: string[] = [];
    const code = await runBackupCommand(["restore", (backup as { file: string }).file, "--into-live", "--yes"],
      { config, databaseUrl: urlFor(sup), logger: createLogger("error", {}, () => {}), out: (l) => out.push(l) });
    expect(code, out.join("\n")).toBe(0);
    expect(await owners(urlFor(app))).toEqual([app]);
    const [row] = await withSql(urlFor(app), (sql) => sql`select username from users where username = 'owner-test'`);
    expect(row).toEqual({ username: "owner-test" });
  }, 120_000);

  test("a restore into a new database makes it the service's, so DATABASE_URL can point at it", async () => {
    const config = testSupervisorConfig({ backupDir: join(dir, "backups"), backupMinFreeMb: 1 });
    const out: string[] = [];
    const backup = await runBackupRound({ config, databaseUrl: urlFor(sup), now: new Date() });
    const code = await runBackupCommand(["restore", (backup as { file: string }).file],
      { config, databaseUrl: urlFor(sup), logger: createLogger("error", {}, () => {}), out: (l) => out.push(l) });
    expect(code, out.join("\n")).toBe(0);
    const database = /restored into database (\S+) /.exec(out.join("\n"))?.[1] ?? "";
    made.push(database);
    const [db] = await withSql(adminUrl(), (sql) => sql<{ owner: string }[]>`select pg_get_userbyid(datdba) as owner from pg_database where datname = ${database}`);
    expect(db?.owner).toBe(app);
    expect(await owners(urlFor(app, database))).toEqual([app]);
  }, 120_000);
});
