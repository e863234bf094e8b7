/**
 * `linkfort-supervisor backup now | list | verify | restore | check`, end to end through
 * runBackupCommand with the real tools, as the daemon's main.ts will call it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { dropDatabase } from "../../service/test/pg.ts";
import { migrationCount } from "../../service/src/db/migrate.ts";
import { runBackupCommand, type BackupCommandIo } from "../src/backups/cli.ts";
import { scanBackupDir } from "../src/backups/backup-files.ts";
import { backupRig, databasesLike, serviceCounts, withSql, type BackupRig } from "./backups-harness.ts";

let rig: BackupRig;
let out: string[];
let io: BackupCommandIo;

beforeAll(async () => {
  rig = await backupRig();
}, 30_000);
afterAll(async () => {
  await rig.close();
}, 30_000);

async function run(...args: string[]): Promise<{ code: number; text: string }> {
  out = [];
  io = { config: rig.config, databaseUrl: rig.databaseUrl, logger: rig.logger, out: (line) => out.push(line) };
  const code = await runBackupCommand(args, io);
  return { code, text: out.join("\n") };
}

describe("backup commands", () => {
  let name: string;

  test("now: takes a verified backup and says where", async () => {
    const res = await run("now");
    expect(res.code, res.text).toBe(0);
    expect(res.text).toMatch(/^backup written: .*linkfort-\d{8}T\d{6}Z\.dump \(.*, verified\)\nsha256 [0-9a-f]{64}\nfrom 127\.0\.0\.1:\d+ \(primary\): DATABASE_URL names one server \(127\.0\.0\.1:\d+\)$/);
    const { backups } = await scanBackupDir(rig.config.backupDir);
    expect(backups).toHaveLength(1);
    name = backups[0]!.name;
  });

  test("list: a table with the backup, verified, its rows and the server it was read from", async () => {
    const res = await run("list");
    expect(res.code, res.text).toBe(0);
    const [header, row] = res.text.split("\n");
    expect(header).toMatch(/^NAME\s+SIZE\s+CREATED \(UTC\)\s+VERIFIED\s+ROWS\s+FROM$/);
    // The dump also counts drizzle's own table: one row per applied migration.
    const total = Object.values(await serviceCounts(rig.databaseUrl)).reduce((a, b) => a + b, migrationCount);
    expect(row).toMatch(new RegExp(`^${name.replaceAll(".", "\\.")}\\s+[\\d.]+ [KM]B\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+yes\\s+${total}\\s+127\\.0\\.0\\.1:\\d+ primary$`));
  });

  test("verify: OK by name; a corrupted copy fails with exit 1", async () => {
    const ok = await run("verify", name);
    expect(ok.code, ok.text).toBe(0);
    expect(ok.text).toMatch(/: OK \(sha256 [0-9a-f]{64}, \d+ archive entries\)$/);

    const path = join(rig.config.backupDir, name);
    const original = await readFile(path);
    const bytes = new Uint8Array(original);
    bytes[Math.floor(bytes.length / 3)]! ^= 0x10;
    await writeFile(path, bytes);
    try {
      const bad = await run("verify", path);
      expect(bad.code, bad.text).toBe(1);
      expect(bad.text).toContain("checksum mismatch");
    } finally {
      await writeFile(path, original);
    }
  });

  test("restore: into a new database by default, its name printed, the same rows as the source", async () => {
    const res = await run("restore", name);
    expect(res.code, res.text).toBe(0);
    const database = /restored into database (linkfort_restore_\S+) in/.exec(res.text)?.[1];
    expect(database, res.text).toBeDefined();
    try {
      expect(res.text).toContain("its URL: postgres");
      expect(res.text, "no password in the output").not.toContain(`:${new URL(rig.databaseUrl).password}@`);
      expect(res.text).toContain(":***@");
      const url = new URL(rig.databaseUrl);
      url.pathname = `/${database}`;
      expect(await serviceCounts(url.toString())).toEqual(await serviceCounts(rig.databaseUrl));
    } finally {
      await dropDatabase(database!);
    }
  });

  test("restore refuses the live database without both --into-live and --yes; nothing changes", async () => {
    await withSql(rig.databaseUrl, (sql) => sql`insert into retired_codes (code) values ('cli-marker')`);
    const before = await serviceCounts(rig.databaseUrl);
    const databasesBefore = await databasesLike("linkfort_restore");
    const res = await run("restore", name, "--into-live");
    expect(res.code, res.text).toBe(2);
    expect(res.text).toContain("add --yes to confirm");
    expect(res.text).toContain("usage: linkfort-supervisor backup");
    expect(await serviceCounts(rig.databaseUrl)).toEqual(before);
    expect(await databasesLike("linkfort_restore")).toEqual(databasesBefore);
  });

  test("restore --into-live --yes puts the live database back to the backup", async () => {
    const res = await run("restore", name, "--into-live", "--yes");
    expect(res.code, res.text).toBe(0);
    expect(res.text).toContain("INTO THE LIVE DATABASE");
    const [marker] = await withSql(rig.databaseUrl, (sql) => sql`select 1 from retired_codes where code = 'cli-marker'`);
    expect(marker, "the row added after the backup is gone").toBeUndefined();
  });

  test("check: the on-demand restore check passes and leaves no scratch database", async () => {
    const res = await run("check");
    expect(res.code, res.text).toBe(0);
    expect(res.text).toMatch(/^restore check passed: linkfort-.*\.dump restored into a scratch database with the same row counts \(\d+ tables, \d+ rows\)/);
    expect(await databasesLike("linkfort_restore_check")).toEqual([]);
  });
});

describe("bad arguments exit 2 with the usage", () => {
  for (const [args, message] of [
    [[], "no backup command given"],
    [["frobnicate"], 'unknown backup command "frobnicate"'],
    [["verify"], "backup verify takes exactly one FILE"],
    [["verify", "a", "b"], "backup verify takes exactly one FILE"],
    [["restore"], "backup restore takes exactly one FILE"],
    [["restore", "x.dump", "--force"], "unknown option --force"],
    [["restore", "x.dump", "--yes"], "--yes only goes with --into-live"],
    [["now", "extra"], '"backup now" takes no arguments'],
  ] as const) {
    test(`backup ${args.join(" ") || "(nothing)"}`, async () => {
      const res = await run(...args);
      expect(res.code, res.text).toBe(2);
      expect(res.text).toContain(`error: ${message}`);
      expect(res.text).toContain("usage: linkfort-supervisor backup <command>");
    });
  }

  test("--help prints the usage and exits 0", async () => {
    const res = await run("--help");
    expect(res.code).toBe(0);
    expect(res.text.startsWith("usage: linkfort-supervisor backup <command>")).toBe(true);
  });
});

describe("failures exit 1 with the reason", () => {
  test("verify of a file that does not exist", async () => {
    const res = await run("verify", "linkfort-20000101T000000Z.dump");
    expect(res.code).toBe(1);
    expect(res.text).toContain("linkfort-20000101T000000Z.dump does not exist");
  });

  test("now with too little disk", async () => {
    out = [];
    const code = await runBackupCommand(["now"], { ...io, config: { ...rig.config, backupMinFreeMb: 10_000_000 }, out: (l) => out.push(l) });
    expect(code).toBe(1);
    expect(out.join("\n")).toMatch(/^backup failed \(disk\): only \d+ MB free/);
  });
});
