/**
 * @module The supervisor's composition root: builds every part from the config,
 * starts them in order and stops them in reverse. Order: alerts, database, backups, Caddy,
 * instances, health watch, status server. So on SIGTERM/SIGINT the status server goes first,
 * then the watch (nothing is respawned any more), then the instances drain, then Caddy stops,
 * then the backups, and an embedded PostgreSQL stops last.
 */
import { setStdoutFormat, type Logger } from "../../service/src/lib/logger.ts";
import { createSystemdNotifier } from "../../service/src/lib/sd-notify.ts";
import { VERSION } from "../../service/src/lib/version.ts";
import { createAlerter } from "./alerts/alerter.ts";
import { showBannerWhenReady } from "./banner.ts";
import { createBackups } from "./backups/backups.ts";
import type { SupervisorConfig } from "./config.ts";
import { openDatabase } from "./database.ts";
import { createSupervisorMetrics } from "./metrics.ts";
import { findCaddy } from "./proxy/caddy.ts";
import { backupActions } from "./console/backup-actions.ts";
import { createConsoleParts } from "./console/console.ts";
import { createRollingRestart, type RollingOptions, type RollingResult } from "./rolling/rolling-restart.ts";
import { createInstances } from "./instances.ts";
import { controlTokenPath, createControlToken } from "./status/control-token.ts";
import { createStatusServer } from "./status/server.ts";
import type { StatusSnapshot } from "./status/snapshot.ts";
import { probeReady } from "./watch/probe.ts";
import { createWatcher, watchSettings } from "./watch/watcher.ts";

export interface DaemonOptions {
  config: SupervisorConfig;
  /** The supervisor's environment (main.ts): instances and Caddy start from it. */
  env: Record<string, string | undefined>;
  logger: Logger;
  /** Aborted by SIGINT/SIGTERM while starting: stop what already runs and reject. */
  signal?: AbortSignal;
  /** Where instance and Caddy output goes (default "inherit": the first admin key shows in the terminal). */
  output?: "inherit" | "ignore";
}

export interface Daemon {
  /** The status server's port (STATUS_PORT, or the one picked for 0). */
  statusPort: number;
  snapshot(): StatusSnapshot;
  rollingRestart(): Promise<RollingResult>;
  /** Stops every part in reverse order; a second call returns the same promise. */
  stop(reason: string): Promise<void>;
}

interface Part {
  name: string;
  stop(): Promise<void>;
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { config } = opts;
  const format = setStdoutFormat({ format: config.logFormat, noColor: config.noColor, component: "supervisor" });
  // Every part logs through the console's tee: its live log and its timeline see what the journal sees.
  const consoleParts = await createConsoleParts({ config, logger: opts.logger, stdout: opts.output === "ignore" ? "none" : format });
  const { logger } = consoleParts;
  const parts: Part[] = [];
  const started = Date.now();
  let stopping: Promise<void> | undefined;
  // systemd (linkfort-supervisor.service: Type=notify, WatchdogSec): READY=1 once every part runs,
  // watchdog pings while the event loop turns, STOPPING=1 first thing on stop. No-ops elsewhere.
  const systemd = createSystemdNotifier(opts.env, { onError: (error) => logger.warn("systemd notification failed", { error }) });
  const stopWatchdog = systemd.startWatchdog();
  parts.push({ name: "systemd watchdog", stop: async () => stopWatchdog() });

  const stop = (reason: string) => {
    stopping ??= (async () => {
      systemd.stopping(`stopping: ${reason}`);
      logger.info("supervisor stopping", { reason });
      for (const part of parts.reverse()) {
        try {
          await part.stop();
        } catch (error) {
          logger.error("stopping a part failed", { part: part.name, error });
        }
      }
      logger.info("supervisor stopped", { reason });
    })();
    return stopping;
  };

  try {
    const metrics = createSupervisorMetrics();
    const alerter = createAlerter({ webhookUrl: config.discordWebhookUrl, dedupMs: config.alertDedupMs, queueMax: config.alertQueueMax, metrics, logger });
    alerter.start();
    parts.push({ name: "alerts", stop: () => alerter.stop() });

    if (config.runner === "systemd" && !config.databaseUrl) throw new Error("DATABASE_URL is required with SUPERVISOR_RUNNER=systemd (backups need it)");
    const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, port: config.embeddedPgPort, logger, signal: opts.signal, restartOnExit: true, alerter });
    parts.push({ name: "database", stop: () => database.stop() });
    opts.signal?.throwIfAborted();

    const backups = createBackups({ config, databaseUrl: database.url, alerter, metrics, logger });
    backups.start();
    parts.push({ name: "backups", stop: () => backups.stop() });

    const caddyBin = config.runner === "process" ? findCaddy(config.caddy) : null;
    const instances = await createInstances({
      config, env: opts.env, databaseUrl: database.url, caddyBin, output: opts.output ?? "inherit", logger, instanceOutput: consoleParts.instanceOutput,
    });
    if (instances.caddy) parts.push({ name: "caddy", stop: () => instances.caddy!.stop() });
    const { runner } = instances;
    parts.push({ name: "instances", stop: () => runner.close() });
    const adminKey = await instances.bootstrapAdminKey();
    for (const port of config.ports) await runner.start(port);
    opts.signal?.throwIfAborted();

    const watcher = createWatcher({ ports: config.ports, runner, alerter, metrics, logger, ...watchSettings(config), readyUrl: instances.readyUrl });
    const watching = new AbortController();
    const loop = watcher.run(watching.signal);
    parts.push({ name: "watch", stop: async () => { watching.abort(); await loop; } });

    const rolling: RollingOptions = {
      ports: config.ports, runner, watcher, logger,
      probe: (port) => probeReady(instances.readyUrl(port), config.probeTimeoutMs),
      readyTimeoutMs: config.startGraceMs, pollMs: Math.min(config.probeIntervalMs, 250),
      // One interval of Caddy's active health check (Caddyfile: 250 ms) and then some.
      settleMs: instances.caddy ? 500 : 0,
    };
    const rollingRestart = createRollingRestart(rolling);
    // One instance, the way a rolling restart takes each; refused when it is the only one ready.
    const restartInstance = async (port: number): Promise<RollingResult> => {
      await watcher.idle();
      if (config.ports.length > 1 && !config.ports.some((p) => p !== port && watcher.isHealthy(p))) {
        return { ok: false, detail: `no other instance is ready, so restarting ${port} would drop traffic`, instances: [] };
      }
      return createRollingRestart({ ...rolling, ports: [port] })();
    };
    const snapshot = (): StatusSnapshot => ({
      version: VERSION, runner: config.runner, uptime_seconds: Math.round((Date.now() - started) / 1000),
      instances: watcher.snapshot(), backups: backups.snapshot(), alerts: alerter.snapshot(),
    });
    const controlToken = await createControlToken(controlTokenPath(config));
    const consoleRunning = consoleParts.start({ readyUrl: instances.readyUrl, alerter });
    parts.push({ name: "console", stop: () => consoleRunning.stop() });
    const status = createStatusServer({
      host: config.statusHost, port: config.statusPort, snapshot, metrics, controlToken, onRollingRestart: rollingRestart, logger,
      // The instance-memory drill's lever: only where drills are on (DRILLS=on), like the drill itself.
      onMemoryLimit: config.drills === "on" ? (port, mb) => watcher.lowerMemoryLimit(port, mb) : undefined,
      console: { auth: consoleRunning.auth, signals: consoleRunning.signals, logs: consoleParts.logs, timeline: consoleParts.timeline, loadTests: consoleRunning.loadTests, drills: consoleRunning.drills, service: consoleRunning.service, ports: config.ports, onRestartInstance: restartInstance,
        backups: backupActions(backups, config.backupDir, config.pgBinDir) },
    });
    parts.push({ name: "status server", stop: () => status.stop() });

    logger.info("supervisor started", {
      pid: process.pid, runner: config.runner, ports: config.ports, public: instances.publicUrl, caddy: instances.caddy !== undefined,
      status: `http://${config.statusHost}:${status.port}/`, database: database.embedded ? "embedded" : "DATABASE_URL",
    });
    if (instances.publicUrl && opts.output !== "ignore") {
      const banner = showBannerWhenReady({
        facts: { publicUrl: instances.publicUrl, statusUrl: `http://${config.statusHost}:${status.port}/`, adminKey, dataDir: config.dataDir, embeddedDatabase: database.embedded },
        instances: config.ports.length, readyCount: () => watcher.snapshot().filter((i) => i.state === "ready").length, timeoutMs: config.startGraceMs,
      });
      parts.push({ name: "banner", stop: () => banner.stop() });
    }
    systemd.ready(`watching ${config.ports.length} instances (${config.runner} runner); status on http://${config.statusHost}:${status.port}/`);
    return { statusPort: status.port, snapshot, rollingRestart, stop };
  } catch (error) {
    await stop("start failed");
    throw error;
  }
}
