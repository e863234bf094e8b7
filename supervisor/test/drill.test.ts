/**
 * `linkfort-supervisor drill` against the quick start as people run it (embedded PostgreSQL,
 * Caddy, three instances from source, Redis): an instance SIGKILLed, PostgreSQL restarted,
 * Redis restarted empty, PostgreSQL's link cut (nftables, root) and more, each under steady load
 * through the public port, and after each the data
 * checks: no acknowledged create and no answered click lost. Counts are asserted, not times.
 * The instances' click spools sit on a small tmpfs the test mounts (root, or password-free sudo),
 * so the disk-full drill fills a filesystem of its own and never the machine's disk.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../service/test/ports.ts";
import { startRedis, type TestRedis } from "../../service/test/redis.ts";
import { requireTool, rootPrefix } from "../../service/test/tools.ts";
import type { TimelineEvent } from "../src/console/timeline.ts";
import { refusal } from "../src/drill/disk-fault.ts";
import { redisPid } from "../src/drill/redis-fault.ts";
import type { DrillReport, DrillRow } from "../src/drill/report.ts";
import { alive } from "./processes.ts";
import { ROOT, spawnSupervisor, tempDataDir, type SupervisorProcess } from "./supervisor-process.ts";

let sup: SupervisorProcess;
let redis: TestRedis;
let dataDir: string;
let env: Record<string, string>;
let adminKey: string;
/** Small filesystems the test mounted: the spools' (16 MiB) and, for the refusal, one that claims 3 GiB. */
const mounts: string[] = [];

async function mountTmpfs(size: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "linkfort-drill-disk-"));
  const mount = Bun.spawnSync([...rootPrefix("mounting a small tmpfs for the click spools"), "mount", "-t", "tmpfs", "-o", `size=${size},mode=0700,uid=${process.getuid!()},gid=${process.getgid!()}`, "tmpfs", dir], { stderr: "pipe" });
  if (mount.exitCode !== 0) throw new Error(`mount -t tmpfs ${dir}: ${mount.stderr.toString()}`);
  mounts.push(dir);
  return dir;
}

beforeAll(async () => {
  requireTool("caddy");
  redis = await startRedis();
  dataDir = await tempDataDir();
  const spoolDir = await mountTmpfs("16m");
  const [publicPort, statusPort, pgPort, ...ports] = await Promise.all([1, 2, 3, 4, 5, 6].map(() => freePort()));
  env = {
    DATA_DIR: dataDir, BACKUP_DIR: join(dataDir, "backups"), INSTANCE_PORTS: ports.join(","), PUBLIC_PORT: String(publicPort),
    STATUS_PORT: String(statusPort), EMBEDDED_PG_PORT: String(pgPort), SUPERVISOR_CADDY: "on", SHUTDOWN_DRAIN_MS: "300",
    ACCESS_LOG: "false", SERVICE_COMMAND: join(ROOT, "service/src/main.ts"), REDIS_URL: redis.url, PROBE_INTERVAL_MS: "250",
    CLICK_SPOOL_DIR: spoolDir,
    // The clicks-dropped alert within a second of a drop and resolved 2 s after the last, so the disk-full drill waits seconds for it, not minutes.
    CONSOLE_SCRAPE_MS: "1000", CLICKS_DROPPED_QUIET_MS: "2000",
  };
  sup = spawnSupervisor(["run"], env);
  const key = await sup.waitForBannerKey(60_000);
  if (!key) throw new Error(`no admin key in the banner:\n${sup.output().slice(-3000)}`);
  adminKey = key;
}, 90_000);

afterAll(async () => {
  const tree = sup ? sup.tree() : [];
  if (sup && alive(sup.proc.pid)) {
    process.kill(-sup.proc.pid, "SIGINT");
    await Promise.race([sup.proc.exited, Bun.sleep(20_000)]);
  }
  for (const pid of [sup?.proc.pid, ...tree]) if (pid && alive(pid)) process.kill(pid, "SIGKILL");
  // The drill started the Redis that answers now (detached, so it outlives the drill): stop it by PID.
  const drillRedis = redis ? await redisPid(redis.url) : null;
  if (drillRedis) process.kill(drillRedis, "SIGKILL");
  await redis?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  for (const dir of mounts) {
    Bun.spawnSync([...rootPrefix("unmounting the test's tmpfs"), "umount", dir]);
    await rm(dir, { recursive: true, force: true });
  }
}, 60_000);

/**
 * The drill CLI, without blocking this process: spawnSync would stop the event loop that reads
 * the supervisor's output pipe, and a fault that makes the instances log a lot (a PostgreSQL link
 * cut: a warning per failed query) fills the pipe, so the supervisor blocks writing and stops
 * answering /status, which the drill polls.
 */
async function drill(args: string[], extraEnv: Record<string, string>) {
  const proc = Bun.spawn([process.execPath, join(ROOT, "supervisor/src/main.ts"), "drill", ...args], {
    cwd: ROOT, env: { PATH: process.env.PATH ?? "", ...env, ...extraEnv }, stdout: "pipe", stderr: "pipe", timeout: 140_000,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out: stdout + stderr };
}

describe("drill", () => {
  test("with DRILLS off (the default) the drill is refused and injects nothing", async () => {
    const pids = sup.tree();
    const { code, out } = await drill(["--fault", "instance-kill"], { LINKFORT_ADMIN_KEY: adminKey });
    expect(code, out).toBe(2);
    expect(out).toContain("drill refused: drills are off for this supervisor (DRILLS=off, the default)");
    for (const pid of pids) expect(alive(pid)).toBe(true);
  });

  test("instance SIGKILL, PostgreSQL restart and Redis restart under load lose no click and no acknowledged write; the instance kill fails no redirect", async () => {
    const json = join(dataDir, "drill.json");
    const { code, out } = await drill(["--fault", "instance-kill,postgres-restart,redis-restart", "--rate", "40", "--phase-ms", "1500", "--json", json],
      { DRILLS: "on", LINKFORT_ADMIN_KEY: adminKey });
    console.log(out);
    const report = JSON.parse(await readFile(json, "utf8")) as DrillReport;
    const row = (name: string): DrillRow => report.rows.find((r) => r.fault === name)!;
    expect(report.rows.map((r) => r.fault)).toEqual(["instance-kill", "postgres-restart", "redis-restart"]);
    for (const r of report.rows) {
      expect(r.phases, `${r.fault}: ${r.why.join("; ")}\n${out}`).toBeDefined();
      expect(r.data, out).toMatchObject({ drained: true, creates_missing: 0, import_rows_missing: 0, clicks_lost: 0 });
      expect(r.data!.redirects_answered, out).toBeGreaterThan(50);
      expect(r.data!.creates_answered, out).toBeGreaterThan(0);
      // The first import goes at the load's start, before any fault; each has 5 to 20 rows.
      expect(r.data!.imports_answered, out).toBeGreaterThan(0);
      expect(r.data!.import_rows_answered, out).toBeGreaterThanOrEqual(5 * r.data!.imports_answered);
    }
    const kill = row("instance-kill");
    for (const phase of [kill.phases!.before, kill.phases!.during, kill.phases!.after]) expect(phase, out).toMatchObject({ conn: 0, http_4xx: 0, redirect_failures: 0 });
    // A create or an import in flight on the killed instance may get Caddy's 502: it cannot retry
    // a POST that may have been processed. Nothing acknowledged is lost (the data check above); nothing else fails.
    expect(Object.keys(kill.failures_by_kind ?? {}).filter((kind) => kind !== "create" && kind !== "import"), out).toEqual([]);
    expect(row("postgres-restart").note, out).toContain("the supervisor started it again");
    expect(row("redis-restart").note, out).toContain("SIGKILL to redis-server");
    expect([0, 1], out).toContain(code!);
  }, 120_000);

  test("every PostgreSQL connection slot taken, and an instance killed meanwhile: every request answered, redirects all served, the instance back once slots free up", async () => {
    const json = join(dataDir, "drill-slots.json");
    const { out } = await drill(["--fault", "postgres-connections-exhausted", "--rate", "40", "--phase-ms", "1500", "--json", json],
      { DRILLS: "on", LINKFORT_ADMIN_KEY: adminKey });
    console.log(out);
    const [row] = (JSON.parse(await readFile(json, "utf8")) as DrillReport).rows;
    expect(row?.phases, out).toBeDefined();
    expect(row!.note, out).toContain("held every free connection slot");
    for (const phase of [row!.phases!.before, row!.phases!.during, row!.phases!.after]) expect(phase, out).toMatchObject({ conn: 0, http_4xx: 0, redirect_failures: 0 });
    expect(row!.recovery?.all_ready_ms, out).not.toBeNull();
    expect(row!.data, out).toMatchObject({ drained: true, creates_missing: 0, import_rows_missing: 0, clicks_lost: 0 });
  }, 120_000);

  test("PostgreSQL's link cut for 20 s (nftables drops its port's packets): every redirect served, no acknowledged write or click lost", async () => {
    requireTool("nft");
    const json = join(dataDir, "drill-link-cut.json");
    const { out } = await drill(["--fault", "postgres-link-cut", "--rate", "40", "--phase-ms", "1500", "--json", json],
      { DRILLS: "on", LINKFORT_ADMIN_KEY: adminKey });
    console.log(out);
    const [row] = (JSON.parse(await readFile(json, "utf8")) as DrillReport).rows;
    expect(row?.phases, `${row?.why.join("; ")}\n${out}`).toBeDefined();
    // The rules matched the instances' traffic: the fault reached them.
    expect(Number(/: (\d+) packets dropped/.exec(row!.note ?? "")?.[1] ?? 0), out).toBeGreaterThan(0);
    for (const phase of Object.values(row!.phases!)) expect(phase.redirect_failures, out).toBe(0);
    expect(row!.recovery?.all_ready_ms, out).not.toBeNull();
    expect(row!.data, out).toMatchObject({ drained: true, creates_missing: 0, import_rows_missing: 0, clicks_lost: 0 });
    expect(row!.data!.creates_answered, out).toBeGreaterThan(0);
  }, 90_000);

  test("a deploy of the running build replaces every instance without a failed request or a lost click; a full spool disk fails no redirect, counts every click it could not keep, and the supervisor alerts while it is full and resolves after", async () => {
    const json = join(dataDir, "drill-upgrade-disk.json");
    const { out } = await drill(["--fault", "instance-upgrade,disk-full", "--rate", "40", "--phase-ms", "1500", "--json", json],
      { DRILLS: "on", LINKFORT_ADMIN_KEY: adminKey });
    console.log(out);
    const report = JSON.parse(await readFile(json, "utf8")) as DrillReport;
    const [upgrade, disk] = report.rows;
    expect(report.rows.map((r) => r.fault)).toEqual(["instance-upgrade", "disk-full"]);

    expect(upgrade!.phases, `${upgrade!.why.join("; ")}\n${out}`).toBeDefined();
    expect(upgrade!.note, out).toMatch(/restarted 3 instances one at a time.*every instance a new process on \S+; the supervisor stays/);
    for (const phase of Object.values(upgrade!.phases!)) expect(phase, out).toMatchObject({ conn: 0, http_5xx: 0, http_4xx: 0, redirect_failures: 0 });
    expect(upgrade!.data, out).toMatchObject({ drained: true, creates_missing: 0, import_rows_missing: 0, clicks_lost: 0 });
    expect(upgrade!.met, out).toBe(true);

    expect(disk!.phases, `${disk!.why.join("; ")}\n${out}`).toBeDefined();
    expect(disk!.note, out).toContain("filled the spools' filesystem");
    for (const phase of Object.values(disk!.phases!)) expect(phase.redirect_failures, out).toBe(0);
    // Clicks answered while the disk was full are lost, and each of them was counted.
    expect(disk!.data!.clicks_lost, out).toBeGreaterThan(0);
    expect(disk!.clicks_dropped!, out).toBeGreaterThanOrEqual(disk!.data!.clicks_lost);
    expect(disk!.data, out).toMatchObject({ drained: true, creates_missing: 0, import_rows_missing: 0 });
    // The supervisor itself alerted (the quick start runs no Prometheus) while the disk was full, and resolved it after.
    expect(disk!.note, out).toMatch(/clicks-dropped alert up \d+ ms after the \d+ ms hold/);
    expect(disk!.alerts!.length, out).toBeGreaterThan(0);
    for (const alert of disk!.alerts!) {
      expect(alert.key, out).toMatch(/^clicks-dropped:\d+:disk_full$/);
      expect(alert.resolved_ms, out).toBeGreaterThanOrEqual(0);
    }
    // The incident timeline has the alert and its resolve, paired by key, with the time it was up.
    const timeline = (await readFile(join(dataDir, "backups", ".console-timeline.jsonl"), "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l) as TimelineEvent);
    const key = disk!.alerts![0]!.key;
    expect(timeline.find((e) => e.kind === "alert" && e.key === key)?.cause, out).toMatch(/^\d+ clicks not kept since the previous reading: the filesystem holding the click spool is full/);
    expect(timeline.find((e) => e.kind === "resolved" && e.key === key)?.duration_seconds, out).toBeGreaterThan(0);
    expect(disk!.met, out).toBe(true);
  }, 150_000);

  test("disk-full refuses a filesystem with more free space than it may fill, naming the limit", async () => {
    const big = await mountTmpfs("3g"); // a tmpfs takes memory only for what is written
    expect(refusal(big)).toMatch(/^the spools' filesystem \(.+\) has 3\.0 GiB free, more than the drill fills \(2 GiB\): put CLICK_SPOOL_DIR on a small filesystem of its own/);
    expect(refusal(mounts[0]!)).toBeNull();
  });
});
