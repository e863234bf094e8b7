/**
 * The supervisor with a stdout nobody reads (journald stalled, a parent that stopped reading its
 * pipe) while its instances log in bulk: it must keep answering /status, and what it could not
 * write is dropped and counted, not waited for. Regression: the supervisor's fd 1 stayed a
 * blocking pipe, so forwarding instance lines into a full pipe stopped its event loop (no
 * probes, no restarts, no alerts, no /status) for as long as the reader was away.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { STDOUT_HELD_MAX_BYTES } from "../../service/src/lib/logger.ts";
import { createDatabase, dropDatabase } from "../../service/test/pg.ts";
import { freePort } from "../../service/test/ports.ts";
import { waitFor } from "../../service/test/wait.ts";
import type { StatusSnapshot } from "../src/status/snapshot.ts";
import { alive, descendants } from "./processes.ts";
import { ROOT, tempDataDir } from "./supervisor-process.ts";

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => {});
}, 30_000);

// More than the pipe (64 KiB) and the 4 MiB the logger may hold together: about 7 MB.
const LINES = 20_000;

interface LogLine { msg: string; level?: string; service?: string; n?: number; log_lines_dropped?: number }

test("a stdout nobody reads: /status keeps answering, lines past 4 MiB are dropped and counted", async () => {
  const db = await createDatabase();
  cleanup.push(() => dropDatabase(db.name));
  const dataDir = await tempDataDir();
  cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
  const [statusPort, publicPort, port] = [await freePort(), await freePort(), await freePort()];
  const [errFile, goFile, outFile] = [join(dataDir, "supervisor.err"), join(dataDir, "supervisor.go"), join(dataDir, "supervisor.out")];

  // The supervisor's stdout is a pipe whose reader does not read until the test creates goFile.
  const shell = `err=$1 go=$2 out=$3; shift 3; "$@" 2>"$err" | (until [ -e "$go" ]; do sleep 0.05; done; exec cat >"$out")`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp",
    DATABASE_URL: db.url, DATA_DIR: dataDir, BACKUP_DIR: join(dataDir, "backups"), LINKFORT_AUTH: "open",
    SERVICE_COMMAND: join(ROOT, "supervisor/test/chatty-instance.ts"), CHATTY_LINES: String(LINES),
    INSTANCE_PORTS: String(port), STATUS_PORT: String(statusPort), PUBLIC_PORT: String(publicPort), SUPERVISOR_CADDY: "off",
    PROBE_INTERVAL_MS: "100", SHUTDOWN_DRAIN_MS: "100", ACCESS_LOG: "false",
  };
  const sh = Bun.spawn(["sh", "-c", shell, "sh", errFile, goFile, outFile, process.execPath, join(ROOT, "supervisor/src/main.ts"), "run"], {
    cwd: ROOT, env, stdin: "ignore", stdout: "ignore", stderr: "ignore", detached: true,
  });
  let tree: number[] = [];
  cleanup.push(async () => {
    await writeFile(goFile, "");
    for (const pid of [sh.pid, ...tree, ...descendants(sh.pid)]) if (alive(pid)) process.kill(pid, "SIGKILL");
  });
  const stderr = () => (existsSync(errFile) ? readFileSync(errFile, "utf8").slice(-3000) : "");
  const heldBytes = async () => {
    const res = await fetch(`http://127.0.0.1:${statusPort}/metrics`, { signal: AbortSignal.timeout(2_000) });
    const value = /^linkfort_supervisor_stdout_held_bytes (\d+)$/m.exec(await res.text())?.[1];
    if (value === undefined) throw new Error("no linkfort_supervisor_stdout_held_bytes in /metrics");
    return Number(value);
  };
  const status = async () => {
    const res = await fetch(`http://127.0.0.1:${statusPort}/status`, { signal: AbortSignal.timeout(2_000) });
    return (await res.json()) as StatusSnapshot;
  };

  // The instance is ready only once the supervisor has read every one of its lines, so this
  // answer comes after the supervisor forwarded ~7 MB into a pipe that takes 64 KiB.
  const ready = await waitFor("/status with the chatty instance ready", async () => {
    const s = await status();
    return s.instances.find((i) => i.port === port && i.state === "ready");
  }, 30_000, { everyMs: 100, retryErrors: true }).catch((error: unknown) => {
    throw new Error(`${String(error)}\nsupervisor stderr:\n${stderr()}`);
  });
  expect(ready.pid).toBeGreaterThan(0);
  expect(existsSync(outFile)).toBe(false); // nobody has read a byte yet
  // Still answering, with the pipe still full and the backlog held in memory, bounded.
  expect((await status()).instances.map((i) => [i.port, i.state])).toEqual([[port, "ready"]]);
  const stalled = await heldBytes();
  expect(stalled).toBeGreaterThan(STDOUT_HELD_MAX_BYTES / 2);
  expect(stalled).toBeLessThanOrEqual(STDOUT_HELD_MAX_BYTES);

  // The reader comes back and takes the backlog. The next line is an instance's, passed on by
  // the supervisor: a supervisor line saying how many were lost goes out just before it.
  tree = descendants(sh.pid);
  await writeFile(goFile, "");
  await waitFor("the backlog written out", async () => (await heldBytes()) === 0, 30_000, { everyMs: 100 });
  const said = await fetch(`http://127.0.0.1:${publicPort}/say`);
  expect(await said.text()).toBe("said");
  const readLines = () => readFileSync(outFile, "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as LogLine);
  const lines = await waitFor("the instance's line after the stall", () => {
    const all = readLines();
    return all.some((l) => l.msg === "said") ? all : undefined;
  }, 10_000, { everyMs: 50 });

  const kept = lines.filter((l) => l.msg === "database query failed").map((l) => l.n!);
  expect(kept.length).toBeGreaterThan(0);
  expect(kept.length).toBeLessThan(LINES);
  // Kept lines are in order: the tail is dropped, nothing is reordered.
  expect(kept).toEqual([...kept].sort((a, b) => a - b));
  const notices = lines.filter((l) => l.service === "linkfort-supervisor" && l.log_lines_dropped !== undefined);
  expect(notices, JSON.stringify(notices)).toHaveLength(1);
  expect(notices[0]).toMatchObject({ level: "warn", msg: "log lines dropped" });
  expect(notices[0]!.log_lines_dropped).toBeGreaterThan(0);
  const after = lines.slice(lines.indexOf(notices[0]!) + 1);
  expect(after.map((l) => l.msg)).toEqual(["said"]);
  // The instance drops nothing (it waits for the supervisor to read), so every line it logged is
  // either out or counted by the supervisor (whose count may include a line of its own).
  expect(lines.filter((l) => l.log_lines_dropped !== undefined)).toEqual(notices);
  expect(kept.length + notices[0]!.log_lines_dropped!).toBeGreaterThanOrEqual(LINES);

  // Ctrl-C: the supervisor stops in order, as it would without the stall.
  const front = tree.find((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("run"));
  expect(front).toBeDefined();
  process.kill(front!, "SIGINT");
  await waitFor("the supervisor to stop", () => sh.exitCode !== null, 30_000, { everyMs: 50 });
  expect(sh.exitCode, stderr()).toBe(0);
  expect(readLines().at(-1)).toMatchObject({ msg: "supervisor stopped", reason: "SIGINT" });
}, 90_000);
