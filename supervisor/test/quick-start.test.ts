/**
 * The supervisor as people run it: `bun supervisor/src/main.ts run` (what `npm start` runs) as a
 * child process, checked by PID. The quick start brings up embedded PostgreSQL, Caddy and three
 * instances from source and stops all of them on Ctrl-C; a SIGKILLed supervisor leaves nothing
 * running behind it either.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { buildBinary } from "../../service/test/binary.ts";
import { createDatabase, dropDatabase } from "../../service/test/pg.ts";
import { freePort } from "../../service/test/ports.ts";
import { readSvgQr } from "../../service/test/qr-decode.ts";
import { waitFor } from "../../service/test/wait.ts";
import { alive } from "./processes.ts";
import { ROOT, spawnSupervisor, tempDataDir, type SupervisorProcess } from "./supervisor-process.ts";
import { requireTool } from "../../service/test/tools.ts";

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => {});
}, 30_000); // removing a PostgreSQL data dir and reaping processes outlasts the 5 s default on a loaded machine

/** Kills whatever a failed test left, by PID. */
function reap(sup: SupervisorProcess, pids: () => number[]) {
  cleanup.push(async () => {
    for (const pid of [sup.proc.pid, ...pids()]) if (alive(pid)) process.kill(pid, "SIGKILL");
  });
}

const pidsFrom = (sup: SupervisorProcess, msg: string) => sup.logs().filter((l) => l.msg === msg).map((l) => Number(l.pid));

describe("quick start", () => {
  beforeAll(() => { requireTool("caddy"); }); // the supervisor runs it (SUPERVISOR_CADDY=on)
  test("run brings up PostgreSQL, Caddy and 3 instances on one public port, serves a seeded redirect, and Ctrl-C stops every process in order", async () => {
    const dataDir = await tempDataDir();
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const [publicPort, statusPort, pgPort, ...ports] = await Promise.all([1, 2, 3, 4, 5, 6].map(() => freePort()));
    const t0 = performance.now();
    const sup = spawnSupervisor(["run", "--seed", "service/seed-data"], {
      DATA_DIR: dataDir, BACKUP_DIR: join(dataDir, "backups"), INSTANCE_PORTS: ports.join(","), PUBLIC_PORT: String(publicPort),
      STATUS_PORT: String(statusPort), EMBEDDED_PG_PORT: String(pgPort), SUPERVISOR_CADDY: "on", SHUTDOWN_DRAIN_MS: "300",
      ACCESS_LOG: "false", SERVICE_COMMAND: join(ROOT, "service/src/main.ts"),
    });
    let tree: number[] = [];
    reap(sup, () => tree);

    await sup.waitForLog("supervisor started", 60_000);
    const redirect = await waitFor("a seeded redirect on the public port", async () => {
      const res = await fetch(`http://127.0.0.1:${publicPort}/YUrtmo`, { redirect: "manual" }).catch(() => null);
      return res?.status === 302 ? res : undefined;
    }, 60_000, { everyMs: 100 });
    console.log(`[timing] quick start (embedded PostgreSQL, seed, Caddy, 3 instances from source): ${(performance.now() - t0).toFixed(0)} ms to the first redirect`);
    expect(redirect.headers.get("location")).toBe("https://example.com/dawn/network/1");
    // The admin key made for this start is in the banner, works, and is in no log record.
    const adminKey = await sup.waitForBannerKey();
    expect(adminKey, sup.output().slice(-3000)).toMatch(/^lf_[0-9A-Za-z]{40}$/);
    const keys = await fetch(`http://127.0.0.1:${publicPort}/admin/keys`, { headers: { authorization: `Bearer ${adminKey}` } });
    expect(keys.status).toBe(200);
    expect(sup.output().split(adminKey!)).toHaveLength(2);
    expect(sup.logs().filter((l) => JSON.stringify(l).includes(adminKey!))).toEqual([]);
    expect(sup.output()).toContain(`http://127.0.0.1:${publicPort}`);
    // QR codes carry this stack's public address (the supervisor's PUBLIC_URL for its instances). Link 1 is YUrtmo in the seed.
    const qr = await fetch(`http://127.0.0.1:${publicPort}/urls/1/qr`, { headers: { authorization: `Bearer ${adminKey}` } });
    expect(readSvgQr(await qr.text())).toBe(`http://127.0.0.1:${publicPort}/YUrtmo`);

    // `linkfort-supervisor status` prints the daemon's /status as a table; the third instance may still be in its first probe.
    const readyRow = (table: string, port: number) => new RegExp(`^${port}\\s+ready\\s`, "m").test(table);
    const table = await waitFor("status table with every instance ready", () => {
      const status = Bun.spawnSync([process.execPath, "supervisor/src/main.ts", "status", "--status-port", String(statusPort)], { cwd: ROOT });
      const text = status.stdout.toString();
      return status.exitCode === 0 && ports.every((p) => readyRow(text, p)) ? text : undefined;
    }, 10_000, { everyMs: 200 });
    expect(table).toContain("INSTANCES");

    // `linkfort-supervisor rolling-restart` goes through the daemon's POST /rolling-restart.
    const firstPids = pidsFrom(sup, "instance started");
    const rolled = Bun.spawnSync([process.execPath, "supervisor/src/main.ts", "rolling-restart", "--status-port", String(statusPort), "--backup-dir", join(dataDir, "backups")], { cwd: ROOT });
    expect(rolled.exitCode, rolled.stdout.toString()).toBe(0);
    expect(rolled.stdout.toString()).toContain("done: restarted 3 instances one at a time");
    for (const pid of firstPids) expect(alive(pid)).toBe(false);

    // spawnSync blocked this thread; the output pump catches up once it runs again (the
    // supervisor relays its instances' lines too, so there is more of it on a busy machine).
    const instances = (await waitFor("six instance starts logged", () => pidsFrom(sup, "instance started").length === 6 && pidsFrom(sup, "instance started"), 20_000)).slice(3);
    const [caddy] = pidsFrom(sup, "caddy started");
    const postmaster = Number(readFileSync(join(dataDir, "postgres/postmaster.pid"), "utf8").split("\n")[0]);
    tree = sup.tree();
    expect(instances).toHaveLength(3);
    for (const pid of [...instances, caddy!, postmaster]) expect(tree).toContain(pid);

    // Ctrl-C: the terminal signals the whole foreground process group.
    process.kill(-sup.proc.pid, "SIGINT");
    expect(await sup.proc.exited).toBe(0);
    await waitFor("every process of the stack gone", () => tree.every((pid) => !alive(pid)), 10_000);

    const order = sup.logs().map((l) => String(l.msg));
    const last = (msg: string) => order.lastIndexOf(msg);
    expect(last("instance stopped")).toBeGreaterThan(order.indexOf("supervisor stopping"));
    expect(last("caddy stopped")).toBeGreaterThan(last("instance stopped"));
    expect(last("embedded PostgreSQL stopped")).toBeGreaterThan(last("caddy stopped"));
    // Each instance drained on the supervisor's SIGTERM, not on the terminal's SIGINT (it never saw that).
    const afterStop = sup.logs().slice(order.indexOf("supervisor stopping"));
    expect(afterStop.filter((l) => l.msg === "stopped").map((l) => l.signal)).toEqual(["SIGTERM", "SIGTERM", "SIGTERM"]);
  }, 120_000);
});

describe("supervisor killed (process runner)", () => {
  async function startBare() {
    const bin = await buildBinary();
    const db = await createDatabase();
    cleanup.push(() => dropDatabase(db.name));
    const [publicPort, statusPort, a, b] = await Promise.all([1, 2, 3, 4].map(() => freePort()));
    const backupDir = await tempDataDir();
    cleanup.push(() => rm(backupDir, { recursive: true, force: true }));
    // No Caddy: the instances share the public port with reusePort (the fallback mode).
    const sup = spawnSupervisor(["run"], {
      DATABASE_URL: db.url, INSTANCE_PORTS: `${a},${b}`, PUBLIC_PORT: String(publicPort), STATUS_PORT: String(statusPort),
      SUPERVISOR_CADDY: "off", SHUTDOWN_DRAIN_MS: "200", ACCESS_LOG: "false", SERVICE_COMMAND: bin, BACKUP_DIR: backupDir,
    });
    const daemon = Number((await sup.waitForLog("supervisor started")).pid);
    await waitFor("both instances listening", () => sup.logs().filter((l) => l.msg === "listening").length === 2, 20_000);
    const instances = pidsFrom(sup, "instance started");
    reap(sup, () => [daemon, ...instances]);
    expect((await fetch(`http://127.0.0.1:${publicPort}/ready`)).status).toBe(200);
    return { sup, daemon, instances };
  }

  test("SIGKILL of the daemon: its instances see stdin close, drain and exit by themselves", async () => {
    const { sup, daemon, instances } = await startBare();
    process.kill(daemon, "SIGKILL");
    const t0 = performance.now();
    await waitFor("instances gone", () => instances.every((pid) => !alive(pid)), 10_000);
    console.log(`[timing] daemon SIGKILLed → its instances exited: ${(performance.now() - t0).toFixed(0)} ms`);
    // Their last lines ("stopped", signal "stdin closed") are not in the output: the daemon relayed
    // the instances' output (the console's live log) and died with the pipe's reading end.
    expect(await sup.proc.exited).toBe(1);
  }, 60_000);

  test("SIGKILL of the `run` front process: the daemon sees stdin close and stops everything in order", async () => {
    const { sup, daemon, instances } = await startBare();
    process.kill(sup.proc.pid, "SIGKILL");
    await waitFor("daemon and instances gone", () => [daemon, ...instances].every((pid) => !alive(pid)), 15_000);
    await waitFor("daemon's last log line", () => sup.logs().some((l) => l.msg === "supervisor stopped"), 2_000);
    expect(sup.logs().find((l) => l.msg === "supervisor stopping")?.reason).toBe("stdin closed");
    expect(sup.logs().filter((l) => l.msg === "stopped" && l.signal === "SIGTERM")).toHaveLength(2);
  }, 60_000);
});
