/**
 * Real linkfort instances (the compiled binary, fast to start) on random loopback ports over a
 * fresh database, with a process runner and a watcher built the way daemon.ts builds them but
 * with test intervals. Set LINKFORT_TEST_VERBOSE=1 to see the instances' own logs.
 */
import { buildBinary } from "../../service/test/binary.ts";
import { createDatabase, dropDatabase } from "../../service/test/pg.ts";
import { freePort } from "../../service/test/ports.ts";
import { createLogger, silentLogger, type Logger } from "../../service/src/lib/logger.ts";
import { testSupervisorConfig, type SupervisorConfig } from "../src/config.ts";
import { createSupervisorMetrics, type SupervisorMetrics } from "../src/metrics.ts";
import { createProcessRunner } from "../src/runners/process.ts";
import type { Runner } from "../src/runners/runner.ts";
import { createWatcher, watchSettings, type Watcher } from "../src/watch/watcher.ts";
import { recordingAlerter, type RecordingAlerter } from "./recording-alerter.ts";
import { waitFor } from "../../service/test/wait.ts";
import { isReady } from "./processes.ts";

const verbose = process.env.LINKFORT_TEST_VERBOSE === "1";

export const testLogger: Logger = verbose ? createLogger("debug", { service: "linkfort-supervisor" }) : silentLogger;

/** Short intervals: probes every 100 ms, 3 failures, 2 s grace, backoff from 100 ms. */
export function fastConfig(overrides: Partial<SupervisorConfig> = {}): SupervisorConfig {
  return testSupervisorConfig({
    probeIntervalMs: 100, probeTimeoutMs: 250, failThreshold: 3, startGraceMs: 5_000,
    backoffBaseMs: 100, backoffMaxMs: 2_000, flapRestarts: 3, flapWindowMs: 60_000,
    memoryLimitMb: 0, drainMs: 0, ...overrides,
  });
}

export interface RestartRecord {
  port: number;
  at: number;
  /** watcher.isHealthy of every other instance when the restart began. */
  othersHealthy: boolean[];
}

export interface Fleet {
  ports: number[];
  restartLog: RestartRecord[];
  config: SupervisorConfig;
  runner: Runner;
  watcher: Watcher;
  alerts: RecordingAlerter;
  metrics: SupervisorMetrics;
  databaseUrl: string;
  /** Starts the watcher's loop (tests that drive runOnce themselves do not call it). */
  watch(): void;
  pid(port: number): Promise<number>;
  waitAllReady(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface FleetOptions {
  count: number;
  config?: Partial<SupervisorConfig>;
  extraEnv?: (port: number) => Record<string, string>;
  /** Start the instances right away (default true). */
  start?: boolean;
}

export async function startFleet(opts: FleetOptions): Promise<Fleet> {
  const bin = await buildBinary();
  const database = await createDatabase();
  const ports: number[] = [];
  for (let i = 0; i < opts.count; i++) ports.push(await freePort());
  const config = fastConfig({ ports, ...opts.config });
  const metrics = createSupervisorMetrics();
  const alerts = recordingAlerter();
  const processRunner = createProcessRunner({
    command: [bin, "serve"], baseEnv: { PATH: process.env.PATH }, host: "127.0.0.1",
    databaseUrl: database.url, drainMs: config.drainMs, accessLog: false, logLevel: verbose ? "info" : "warn",
    extraEnv: opts.extraEnv, stopTimeoutMs: 5_000, output: verbose ? "inherit" : "ignore", logger: testLogger,
  });
  const restartLog: RestartRecord[] = [];
  // Records what the other instances looked like when each restart began (the one-at-a-time rule).
  const runner: Runner = {
    ...processRunner,
    async restart(port, restartOpts) {
      restartLog.push({ port, at: Date.now(), othersHealthy: ports.filter((p) => p !== port).map((p) => watcher.isHealthy(p)) });
      return processRunner.restart(port, restartOpts);
    },
  };
  const watcher = createWatcher({
    ports, runner, alerter: alerts, metrics, logger: testLogger, ...watchSettings(config),
    readyUrl: (port) => `http://127.0.0.1:${port}/ready`,
  });
  const abort = new AbortController();
  let loop: Promise<void> | undefined;
  if (opts.start ?? true) for (const port of ports) await runner.start(port);

  return {
    ports, config, runner, watcher, alerts, metrics, databaseUrl: database.url, restartLog,
    watch() { loop ??= watcher.run(abort.signal); },
    async pid(port) {
      const pid = await runner.pid(port);
      if (pid === null) throw new Error(`instance ${port} is not running`);
      return pid;
    },
    async waitAllReady(timeoutMs = 15_000) {
      await waitFor("every instance ready", async () => (await Promise.all(ports.map(isReady))).every(Boolean), timeoutMs);
    },
    async stop() {
      abort.abort();
      await loop;
      await runner.close();
      await dropDatabase(database.name).catch(() => {});
    },
  };
}
