/**
 * `backup restore FILE --into-live --yes` with its safety net: it refuses while linkfort instances
 * are connected, dumps the current data first, empties what Redis cached from the old data, and
 * says in one line how to undo. Real PostgreSQL, pg_dump/pg_restore and redis-server.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import postgres from "postgres";
import { codeKey } from "../../service/src/cache/redis-tier.ts";
import { banKey } from "../../service/src/limits/redis-store.ts";
import { startRedis, type TestRedis } from "../../service/test/redis.ts";
import { scanBackupDir } from "../src/backups/backup-files.ts";
import { runBackupCommand } from "../src/backups/cli.ts";
import { backupRig, withSql, type BackupRig } from "./backups-harness.ts";

let rig: BackupRig;
let redis: TestRedis;
let client: Redis;
let backup = "";

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url, { lazyConnect: true });
  await client.connect();
  rig = await backupRig({ redisUrl: redis.url });
  const made = await run("now");
  backup = /backup written: \S+\/(linkfort-\S+\.dump)/.exec(made.text)?.[1] ?? "";
  if (!backup) throw new Error(made.text);
}, 60_000);
afterAll(async () => {
  client.disconnect();
  await redis?.stop();
  await rig?.close();
}, 30_000);

async function run(...args: string[]): Promise<{ code: number; text: string }> {
  const out: string[] = [];
  const code = await runBackupCommand(args, { config: rig.config, databaseUrl: rig.databaseUrl, logger: rig.logger, out: (l) => out.push(l) });
  return { code, text: out.join("\n") };
}
const marker = async () => (await withSql(rig.databaseUrl, (sql) => sql`select 1 from retired_codes where code = 'after-backup'`)).length;
const dumps = async () => (await scanBackupDir(rig.config.backupDir)).backups.map((b) => b.name).sort();

// Regression: --into-live replaced the data while instances were serving from it, kept no copy of
// what it replaced, and left Redis serving redirects (and bans) from the old data.
describe("restore --into-live", () => {
  test("refuses while a linkfort instance is connected, and changes nothing", async () => {
    await withSql(rig.databaseUrl, (sql) => sql`insert into retired_codes (code) values ('after-backup')`);
    const before = await dumps();
    const instance = postgres(rig.databaseUrl, { max: 1, connection: { application_name: "linkfort:8081" } });
    try {
      await instance`select 1`;
      const res = await run("restore", backup, "--into-live", "--yes");
      expect(res.code, res.text).toBe(1);
      expect(res.text).toContain("refusing: 1 connection from linkfort instances (linkfort:8081) is open to the live database");
      expect(res.text).toContain("stop them first");
    } finally {
      await instance.end();
    }
    expect(await marker()).toBe(1);
    expect(await dumps()).toEqual(before);
  });

  test("dumps the current data first, restores, empties the cache and ban keys, and the printed undo line brings the data back", async () => {
    await client.set(codeKey("abc123"), "cached from the old data");
    await client.set(banKey("203.0.113.9"), "1");
    await client.set("limits:strike:203.0.113.9", "2");
    const before = await dumps();
    const res = await run("restore", backup, "--into-live", "--yes");
    expect(res.code, res.text).toBe(0);
    const safety = (await dumps()).filter((n) => !before.includes(n));
    expect(safety, res.text).toHaveLength(1);
    expect(res.text).toContain(`safety dump of the data being replaced: ${rig.config.backupDir}/${safety[0]}`);
    expect(res.text).toContain("redis: deleted 2 keys (cached redirects lf:code:*, bans limits:ban:*); the instances copy the restored bans back from PostgreSQL at start");
    const undo = res.text.split("\n").find((l) => l.startsWith("to undo: "));
    expect(undo).toBe(`to undo: linkfort-supervisor backup restore ${safety[0]} --into-live --yes`);
    expect(await marker()).toBe(0);
    expect(await client.exists(codeKey("abc123"), banKey("203.0.113.9"))).toBe(0);
    expect(await client.get("limits:strike:203.0.113.9")).toBe("2");

    const undone = await run(...undo!.replace("to undo: linkfort-supervisor backup ", "").split(" "));
    expect(undone.code, undone.text).toBe(0);
    expect(await marker()).toBe(1);
  }, 60_000);
});
