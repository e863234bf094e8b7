/**
 * POST /memory-limit, the instance-memory drill's lever in a stack where the kernel holds no limit
 * (the quick start): the status server with the control token in front of the real watcher, over
 * the systemd runner with systemctl answered by the test and /ready by a real server on loopback.
 * A lowered limit below the instance's RSS makes the watcher replace it, once: the limit ends
 * with that process.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { silentLogger } from "../../../service/src/lib/logger.ts";
import { sampleSnapshot } from "../../test/status-sample.ts";
import { noAlerts } from "../alerts/alert.ts";
import { createSupervisorMetrics } from "../metrics.ts";
import { createSystemdRunner } from "../runners/systemd.ts";
import { createWatcher, type Watcher } from "../watch/watcher.ts";
import { createStatusServer, type StatusServer } from "./server.ts";

const PORT = 8082;
const OTHER = 8081;
const TOKEN = "fedcba9876543210".repeat(4);
const RSS = 100 * 1024 * 1024;
/** The MainPID systemctl shows for PORT: the test changes it when the unit is restarted. */
let pidOfPort = 4242;
const calls: string[][] = [];
let readyServer: ReturnType<typeof Bun.serve>;
let watcher: Watcher;
let server: StatusServer;
let withoutDrills: StatusServer;

const shown = (pid: number) => `ActiveState=active\nSubState=running\nMainPID=${pid}\nResult=success\nExecMainCode=0\nExecMainStatus=0\nActiveEnterTimestamp=@1715680800\nNRestarts=0\n`;

beforeAll(() => {
  readyServer = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ status: "ready" }) });
  const runner = createSystemdRunner({
    unitPrefix: "linkfort@", logger: silentLogger,
    exec: async (argv) => {
      calls.push(argv);
      if (argv[1] === "restart" && argv.at(-1) === `linkfort@${PORT}`) pidOfPort++;
      const stdout = argv[1] !== "show" ? "" : shown(argv.at(-1) === `linkfort@${PORT}` ? pidOfPort : 1111);
      return { code: 0, stdout, stderr: "" };
    },
  });
  watcher = createWatcher({
    ports: [OTHER, PORT], runner, alerter: noAlerts, metrics: createSupervisorMetrics(), logger: silentLogger,
    policy: { failThreshold: 3, startGraceMs: 5_000, backoffBaseMs: 100, backoffMaxMs: 2_000, flapRestarts: 3, flapWindowMs: 60_000 },
    probeIntervalMs: 100, probeTimeoutMs: 1_000, memoryLimitMb: 512, readRss: async () => RSS,
    readyUrl: () => `http://127.0.0.1:${readyServer.port}/ready`,
  });
  const common = { host: "127.0.0.1", port: 0, snapshot: sampleSnapshot, metrics: createSupervisorMetrics(), logger: silentLogger, controlToken: TOKEN, onRollingRestart: async () => ({ ok: true, detail: "" }) };
  server = createStatusServer({ ...common, onMemoryLimit: (port, mb) => watcher.lowerMemoryLimit(port, mb) });
  withoutDrills = createStatusServer(common);
});
afterAll(async () => { await server.stop(); await withoutDrills.stop(); await readyServer.stop(true); }, 30_000);

async function post(target: StatusServer, body: unknown, token = TOKEN) {
  const res = await fetch(`http://127.0.0.1:${target.port}/memory-limit`, {
    method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as unknown };
}
const restarts = () => calls.filter((argv) => argv[1] === "restart").map((argv) => argv.at(-1));

describe("POST /memory-limit", () => {
  test("refused without the token, with a bad body, for an unknown port, and where drills are off; nothing restarts", async () => {
    await watcher.runOnce();
    expect((await post(server, { port: PORT, mb: 50 }, "wrong")).status).toBe(401);
    expect(await post(server, { port: PORT, mb: 0 })).toEqual({ status: 400, body: { error: "Bad Request", message: 'the body must be {"port": an instance\'s port, "mb": an integer from 1 to 1000000}' } });
    expect(await post(server, { port: String(PORT), mb: 50 })).toMatchObject({ status: 400 });
    expect(await post(server, { port: 9999, mb: 50 })).toEqual({ status: 404, body: { ok: false, detail: "no instance on port 9999" } });
    expect(await post(withoutDrills, { port: PORT, mb: 50 })).toEqual({ status: 404, body: { error: "Not Found", message: "POST /memory-limit is for drills: DRILLS=on in the supervisor's settings" } });
    await watcher.runOnce();
    await watcher.idle();
    expect(restarts()).toEqual([]);
  });

  test("a limit below the RSS makes the watcher replace that instance once, the other never; the new process runs under the usual limit", async () => {
    await watcher.runOnce();
    expect(watcher.isHealthy(PORT)).toBe(true);
    expect(await post(server, { port: PORT, mb: 50 })).toEqual({ status: 200, body: { ok: true, detail: "instance 8082 (pid 4242, RSS 100 MB): memory limit 50 MB until this process is replaced" } });
    await watcher.runOnce();
    await watcher.idle();
    expect(restarts()).toEqual([`linkfort@${PORT}`]);
    // The replacement (pid 4243) is ready after its probes and stays: 100 MB is under 512 MB.
    for (let round = 0; round < 4; round++) { await watcher.runOnce(); await watcher.idle(); }
    expect(watcher.isHealthy(PORT)).toBe(true);
    expect(watcher.snapshot().find((i) => i.port === PORT)?.pid).toBe(4243);
    expect(restarts()).toEqual([`linkfort@${PORT}`]);
  });
});
