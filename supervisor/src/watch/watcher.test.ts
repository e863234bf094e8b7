/**
 * The watcher over the systemd runner, with systemctl answered by the test (what systemd shows
 * for a unit at each step of a kill -9 and its automatic restart) and /ready and /health answered
 * by a real HTTP server on loopback. Whether real systemd shows these values is deploy/test/vm.test.ts's
 * job; here: one crash systemd handled is one alert and one count, and the watcher touches no unit.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { silentLogger } from "../../../service/src/lib/logger.ts";
import { recordingAlerter, type RecordingAlerter } from "../../test/recording-alerter.ts";
import { createSupervisorMetrics, type SupervisorMetrics } from "../metrics.ts";
import { createSystemdRunner } from "../runners/systemd.ts";
import { alertKeys } from "./transitions.ts";
import { createWatcher, type Watcher } from "./watcher.ts";

/** The instance the tests crash; OTHER stays up, so a crash of PORT is not "all down". */
const PORT = 8082;
const OTHER = 8081;
let readyServer: ReturnType<typeof Bun.serve>;
/** What PORT's /ready answers: 200 once the instance is up, 503 while it is dead or starting. */
let instanceReady = true;
/** The release PORT's /health reports; OTHER's is always 1.0.0. */
let instanceRelease = "1.0.0";
/** /health requests, by port. */
const healthReads = new Map<number, number>();

beforeAll(() => {
  readyServer = Bun.serve({
    hostname: "127.0.0.1", port: 0,
    // /<port>/ready and /<port>/health: one server stands in for both instances.
    fetch: (req) => {
      const [, port, path] = new URL(req.url).pathname.split("/");
      const isPort = port === String(PORT);
      if (path === "health") {
        healthReads.set(Number(port), (healthReads.get(Number(port)) ?? 0) + 1);
        return Response.json({ status: "ok", version: isPort ? instanceRelease : "1.0.0", click_spool: { bytes: 0, unshipped_clicks: 0, oldest_unshipped_age_seconds: 0 } });
      }
      return instanceReady || !isPort ? Response.json({ status: "ready" }) : Response.json({ status: "starting" }, { status: 503 });
    },
  });
});
afterAll(() => readyServer.stop(true), 30_000);

/** linkfort@PORT as `systemctl show` prints it. */
function unit(fields: { nRestarts: number; pid?: number; autoRestart?: { result: string; code: number; status: number } }): string {
  const { nRestarts, pid = 4242, autoRestart } = fields;
  const state = autoRestart
    ? `ActiveState=activating\nSubState=auto-restart\nMainPID=0\nResult=${autoRestart.result}\nExecMainCode=${autoRestart.code}\nExecMainStatus=${autoRestart.status}`
    : `ActiveState=active\nSubState=running\nMainPID=${pid}\nResult=success\nExecMainCode=0\nExecMainStatus=0`;
  return `${state}\nActiveEnterTimestamp=@1715680800\nNRestarts=${nRestarts}\n`;
}

interface Rig {
  watcher: Watcher;
  alerts: RecordingAlerter;
  metrics: SupervisorMetrics;
  /** Every systemctl argv the runner ran. */
  calls: string[][];
  /** Sets what `systemctl show linkfort@PORT` answers from now on. */
  show(text: string): void;
}

/** `now`: the watcher's clock (default the real one). */
function rig(startGraceMs = 5_000, now?: () => number): Rig {
  let shown = unit({ nRestarts: 0 });
  const calls: string[][] = [];
  const runner = createSystemdRunner({
    unitPrefix: "linkfort@", logger: silentLogger,
    exec: async (argv) => {
      calls.push(argv);
      const stdout = argv[1] !== "show" ? "" : argv.at(-1) === `linkfort@${PORT}` ? shown : unit({ nRestarts: 0, pid: 1111 });
      return { code: 0, stdout, stderr: "" };
    },
  });
  const alerts = recordingAlerter();
  const metrics = createSupervisorMetrics();
  const watcher = createWatcher({
    ports: [OTHER, PORT], runner, alerter: alerts, metrics, logger: silentLogger,
    policy: { failThreshold: 3, startGraceMs, backoffBaseMs: 100, backoffMaxMs: 2_000, flapRestarts: 3, flapWindowMs: 60_000 },
    probeIntervalMs: 100, probeTimeoutMs: 1_000, memoryLimitMb: 0,
    readyUrl: (port) => `http://127.0.0.1:${readyServer.port}/${port}/ready`, now,
  });
  return { watcher, alerts, metrics, calls, show: (text) => { shown = text; } };
}

const restartsMetric = async (metrics: SupervisorMetrics) => metrics.registry.getSingleMetricAsString("linkfort_supervisor_instance_restarts_total");
/** The systemctl verbs run, without the reads. */
const actions = (calls: string[][]) => calls.filter((argv) => argv[1] !== "show").map((argv) => argv.slice(1).join(" "));

describe("watcher with the systemd runner", () => {
  test("a kill -9 that systemd restarted by itself raises exactly one \"restarted\" alert, counts one crash and starts nothing", async () => {
    const { watcher, alerts, metrics, calls, show } = rig();
    instanceReady = true;
    show(unit({ nRestarts: 0 }));
    await watcher.runOnce(); // the baseline
    expect(watcher.isHealthy(PORT)).toBe(true);

    // Killed: for RestartSec (1 s) systemd waits in auto-restart and still shows the exit.
    instanceReady = false;
    show(unit({ nRestarts: 0, autoRestart: { result: "signal", code: 2, status: 9 } }));
    await watcher.runOnce();
    // systemd restarted it: NRestarts grew, the new process is starting.
    show(unit({ nRestarts: 1, pid: 4343 }));
    await watcher.runOnce();
    expect(alerts.raised(alertKeys.restarted(PORT)).map((c) => [c.severity, c.detail])).toEqual([["info", "exited (killed by SIGKILL; systemd restarted it)"]]);
    // Still starting: inside its grace, so its failed probes do not count towards a restart.
    await watcher.runOnce();
    instanceReady = true;
    await watcher.runOnce();
    await watcher.runOnce();

    expect(alerts.raised(alertKeys.restarted(PORT))).toHaveLength(1);
    expect(alerts.calls.filter((c) => c.kind === "raise").map((c) => c.key)).toEqual([alertKeys.restarted(PORT)]);
    expect(await restartsMetric(metrics)).toContain(`linkfort_supervisor_instance_restarts_total{port="${PORT}",reason="crashed"} 1`);
    expect(watcher.snapshot()[1]).toEqual(expect.objectContaining({ port: PORT, state: "ready", pid: 4343, restarts: 1, consecutive_failures: 0, last_error: "killed by SIGKILL; systemd restarted it" }));
    expect(actions(calls)).toEqual([]);
  }, 15_000);

  test("a crash loop systemd handles is one alert per reading that saw crashes, counted per crash, and one flapping alert", async () => {
    const { watcher, alerts, metrics, calls, show } = rig();
    instanceReady = true;
    show(unit({ nRestarts: 0 }));
    await watcher.runOnce();
    // Two crash-restarts between two readings: one alert, two counted.
    show(unit({ nRestarts: 2, pid: 5000 }));
    await watcher.runOnce();
    expect(alerts.raised(alertKeys.restarted(PORT)).map((c) => c.detail)).toEqual([`exited (systemd restarted it 2 times; how it ended: journalctl -u linkfort@${PORT})`]);
    expect(alerts.raised(alertKeys.flapping(PORT))).toEqual([]);
    show(unit({ nRestarts: 3, pid: 5001 }));
    await watcher.runOnce();
    await watcher.runOnce();

    expect(alerts.raised(alertKeys.restarted(PORT))).toHaveLength(2);
    expect(alerts.raised(alertKeys.flapping(PORT)).map((c) => c.severity)).toEqual(["critical"]);
    expect(await restartsMetric(metrics)).toContain(`linkfort_supervisor_instance_restarts_total{port="${PORT}",reason="crashed"} 3`);
    expect(watcher.snapshot().map((s) => s.restarts)).toEqual([0, 3]);
    expect(actions(calls)).toEqual([]);
  }, 15_000);

  test("each instance's release comes from its /health with the spool, once per 5 s, at once after a restart, unknown while not ready", async () => {
    let clock = 1_000_000;
    const { watcher, show } = rig(5_000, () => clock);
    const versions = () => watcher.snapshot().map((s) => [s.port, s.version]);
    const reads = () => [healthReads.get(OTHER) ?? 0, healthReads.get(PORT) ?? 0];
    healthReads.clear();
    instanceReady = true;
    instanceRelease = "1.0.0";
    show(unit({ nRestarts: 0 }));
    await watcher.runOnce();
    expect(versions()).toEqual([[OTHER, "1.0.0"], [PORT, "1.0.0"]]);
    expect(watcher.snapshot()[1]!.spool).toEqual({ bytes: 0, unshipped_clicks: 0, oldest_unshipped_age_seconds: 0 });
    // Rounds within 5 s of the read do not ask again: one /health request per instance so far.
    for (let round = 0; round < 3; round++) { clock += 1_000; await watcher.runOnce(); }
    expect(reads()).toEqual([1, 1]);

    // Killed, and systemd starts the next release (an upgrade under way): unknown while it is not ready...
    instanceReady = false;
    show(unit({ nRestarts: 0, autoRestart: { result: "signal", code: 2, status: 9 } }));
    await watcher.runOnce();
    instanceRelease = "1.1.0";
    show(unit({ nRestarts: 1, pid: 4343 }));
    await watcher.runOnce();
    expect(versions()).toEqual([[OTHER, "1.0.0"], [PORT, null]]);
    expect(watcher.snapshot()[1]!.spool).toBeNull();
    // ...and read at its first ready probe, though the last read was under 5 s ago.
    instanceReady = true;
    clock += 500;
    await watcher.runOnce();
    expect(versions()).toEqual([[OTHER, "1.0.0"], [PORT, "1.1.0"]]);
    expect(reads()).toEqual([1, 2]);
    clock += 5_000;
    await watcher.runOnce();
    expect(reads()).toEqual([2, 3]);
  }, 15_000);

  test("a restart the watcher made itself (failed probes) is not reported again as a crash", async () => {
    // No grace: the third failed probe in a row restarts it.
    const { watcher, alerts, metrics, calls, show } = rig(0);
    instanceReady = false;
    show(unit({ nRestarts: 4 }));
    for (let round = 0; round < 3; round++) await watcher.runOnce();
    await watcher.idle();
    expect(actions(calls)).toEqual([`kill --signal=SIGKILL linkfort@${PORT}`, `restart linkfort@${PORT}`]);
    // What systemd does on a requested restart: the counter goes back to 0 (service.c flush_n_restarts).
    instanceReady = true;
    show(unit({ nRestarts: 0, pid: 6000 }));
    await watcher.runOnce();
    await watcher.runOnce();

    expect(alerts.raised(alertKeys.restarted(PORT)).map((c) => c.detail)).toEqual([expect.stringContaining("failed 3 probes in a row")]);
    const counted = await restartsMetric(metrics);
    expect(counted).toContain(`linkfort_supervisor_instance_restarts_total{port="${PORT}",reason="unhealthy"} 1`);
    expect(counted).not.toContain(`reason="crashed"`);
    expect(watcher.isHealthy(PORT)).toBe(true);
  }, 15_000);
});
