/**
 * @module The health loop: `runOnce()` probes every instance once and acts on
 * what flipped; `run(signal)` is only a ticker around it. Rules: after `failThreshold` failures
 * in a row an instance is restarted through the runner; never more than one restart at a time
 * unless none is healthy; a process that exits is respawned at once, then with exponential
 * backoff (a unit systemd already restarted is only reported); an instance over the memory
 * limit is replaced gracefully, one at a time (the limit is INSTANCE_MEMORY_LIMIT_MB, or a lower one
 * set for one process through `lowerMemoryLimit`).
 */
import type { Logger } from "../../../service/src/lib/logger.ts";
import type { Alerter } from "../alerts/alert.ts";
import type { SupervisorConfig } from "../config.ts";
import type { SupervisorMetrics } from "../metrics.ts";
import type { ExitEvent, HandledCrashes, Runner } from "../runners/runner.ts";
import type { InstanceSnapshot } from "../status/snapshot.ts";
import { InstanceState, type Flip, type RestartReason, type StatePolicy } from "./instance-state.ts";
import { readRssBytes } from "./memory.ts";
import { readInstanceHealth, UNKNOWN_HEALTH, type InstanceHealth } from "./health.ts";
import { probeReady, type ProbeResult } from "./probe.ts";
import { sleep } from "./sleep.ts";
import { reportAllDown, reportFlips, reportRestart } from "./transitions.ts";

export interface WatcherOptions {
  ports: number[];
  runner: Runner;
  alerter: Alerter;
  metrics: SupervisorMetrics;
  logger: Logger;
  policy: StatePolicy;
  /** PROBE_INTERVAL_MS: time between the starts of two rounds (ms). */
  probeIntervalMs: number;
  /** PROBE_TIMEOUT_MS: a slower probe failed (ms). */
  probeTimeoutMs: number;
  /** INSTANCE_MEMORY_LIMIT_MB; 0 turns the check off. */
  memoryLimitMb: number;
  /** URL of an instance's /ready. */
  readyUrl: (port: number) => string;
  /** Default: VmRSS from /proc. */
  readRss?: (pid: number) => Promise<number | null>;
  /** Default: the click spool backlog and the version from the instance's /health (next to its /ready). */
  readHealth?: (port: number) => Promise<InstanceHealth>;
  /** Clock (Unix ms); default Date.now. */
  now?: () => number;
}

/** The watcher's settings from the supervisor's config. */
export function watchSettings(config: SupervisorConfig): Pick<WatcherOptions, "policy" | "probeIntervalMs" | "probeTimeoutMs" | "memoryLimitMb"> {
  const { failThreshold, startGraceMs, backoffBaseMs, backoffMaxMs, flapRestarts, flapWindowMs } = config;
  return {
    policy: { failThreshold, startGraceMs, backoffBaseMs, backoffMaxMs, flapRestarts, flapWindowMs },
    probeIntervalMs: config.probeIntervalMs,
    probeTimeoutMs: config.probeTimeoutMs,
    memoryLimitMb: config.memoryLimitMb,
  };
}

const HEALTH_READ_EVERY_MS = 5_000;

export function createWatcher(opts: WatcherOptions) {
  const { runner, alerter, metrics, logger: log } = opts;
  const now = opts.now ?? Date.now;
  const readRss = opts.readRss ?? readRssBytes;
  const readHealth = opts.readHealth ?? ((port: number) => readInstanceHealth(opts.readyUrl(port).replace(/\/ready$/, "/health"), opts.probeTimeoutMs));
  const states = new Map(opts.ports.map((port) => [port, new InstanceState(port, opts.policy, now())]));
  /** Restarts and respawns under way, by port; a port in here belongs to its action. */
  const actions = new Map<number, Promise<void>>();
  /**
   * A lower memory limit for one port's current process (POST /memory-limit, the instance-memory
   * drill); it ends with that process, so its replacement runs under INSTANCE_MEMORY_LIMIT_MB again.
   */
  const lowered = new Map<number, { pid: number; bytes: number }>();
  const limitOf = (state: InstanceState): number => {
    const own = lowered.get(state.port);
    if (own && own.pid === state.pid) return own.bytes;
    if (own && state.pid !== null) lowered.delete(state.port);
    return opts.memoryLimitMb * 1024 * 1024;
  };
  let allDown = false;
  let stopped = false;
  const abort = new AbortController();

  /** `restartFollows`: the "down" flip is logged but not alerted; the restart alert that follows says it all. */
  const apply = (state: InstanceState, flips: Flip[], restartFollows = false) => {
    reportFlips(flips, state, restartFollows ? { raise() {}, resolve() {} } : alerter, log);
    metrics.instanceUp.labels(String(state.port)).set(state.healthy ? 1 : 0);
  };
  const owned = (state: InstanceState) => actions.has(state.port) || state.paused;

  const updateAllDown = () => {
    const list = [...states.values()];
    if (!allDown && list.every((s) => s.down)) allDown = true;
    else if (allDown && list.some((s) => s.healthy)) allDown = false;
    else return;
    reportAllDown(allDown, alerter, log, opts.ports);
  };

  /** Runs `work` as the port's action: the watcher leaves the port alone until it settles. */
  const launch = (state: InstanceState, delayMs: number, work: () => Promise<void>) => {
    const action = (async () => {
      if (delayMs > 0) await sleep(delayMs, abort.signal);
      if (stopped) return;
      try {
        await work();
      } catch (error) {
        state.lastError = error instanceof Error ? error.message : String(error);
        log.error("restart failed", { port: state.port, error });
      }
      // Started or not, it gets the grace; the probes then tell.
      state.started(now());
    })().finally(() => actions.delete(state.port));
    actions.set(state.port, action);
  };

  const restart = (state: InstanceState, reason: RestartReason) => {
    const delay = reason === "unhealthy" ? state.restartDelay(now()) : 0;
    apply(state, state.restarting(reason, now()));
    metrics.instanceRestarts.labels(String(state.port), reason).inc();
    reportRestart(state, reason, delay, alerter, log);
    // Failed probes: kill at once (see RestartOptions.force); memory: drain first, it still serves.
    launch(state, delay, () => runner.restart(state.port, { force: reason === "unhealthy" }));
  };

  const crashed = (state: InstanceState, detail: string) => {
    // A crash restarted at once is one alert ("restarted"), not three (down, restarted, resolved).
    apply(state, state.exited(detail), true);
    const delay = state.restartDelay(now());
    apply(state, state.restarting("crashed", now()));
    if (delay > 0) state.phase = "backoff";
    metrics.instanceRestarts.labels(String(state.port), "crashed").inc();
    reportRestart(state, "crashed", delay, alerter, log);
    updateAllDown();
    launch(state, delay, () => runner.start(state.port));
  };

  /**
   * systemd already restarted it (Restart=always): the same alert, count and backoff bookkeeping
   * as `crashed`, but nothing to start, since the unit runs again. The new process gets its grace.
   */
  const restartedBySystemd = (state: InstanceState, crashes: HandledCrashes) => {
    apply(state, state.exited(crashes.detail), true);
    for (let i = 0; i < crashes.count; i++) apply(state, state.restarting("crashed", now()));
    metrics.instanceRestarts.labels(String(state.port), "crashed").inc(crashes.count);
    reportRestart(state, "crashed", 0, alerter, log);
    state.started(now());
  };

  const handleExit = (event: ExitEvent) => {
    const state = states.get(event.port);
    if (!state || stopped || state.paused) return;
    const pending = actions.get(event.port);
    // It died while a restart was under way: once that settles, act only if nothing runs now.
    if (pending) { void pending.then(async () => { if ((await runner.pid(event.port)) === null) handleExit(event); }); return; }
    crashed(state, event.signal ? `killed by ${event.signal}` : `exited with code ${event.code}`);
  };

  const observe = async (state: InstanceState) => {
    if (owned(state)) return;
    const info = await runner.status(state.port).catch((error: unknown) => {
      log.warn("runner status failed", { port: state.port, error });
      return null;
    });
    if (owned(state)) return;
    if (info) {
      if (info.handledCrashes) restartedBySystemd(state, info.handledCrashes);
      state.pid = info.pid;
      state.startedAt = info.startedAt;
      // Missed exits (and units systemd gave up on) are crashes too.
      if (!info.active) return crashed(state, "not running");
    }
    const result: ProbeResult = await probeReady(opts.readyUrl(state.port), opts.probeTimeoutMs);
    metrics.probeDuration.labels(String(state.port)).observe(result.ms / 1000);
    if (owned(state) || state.phase === "backoff") return;
    apply(state, state.probed(result, now()));
    if (state.pid !== null) {
      state.rssBytes = await readRss(state.pid);
      if (state.rssBytes !== null) metrics.instanceRss.labels(String(state.port)).set(state.rssBytes);
    }
    // /health probes PostgreSQL (cached 1 s by the instance): every few seconds is enough for people.
    if (result.ok && now() - state.healthReadAt >= HEALTH_READ_EVERY_MS) {
      state.healthReadAt = now();
      state.health = await readHealth(state.port);
    } else if (!result.ok) state.health = UNKNOWN_HEALTH;
  };

  /** Decides the restarts of this round from the states the probes left. */
  const act = () => {
    const list = [...states.values()];
    const t = now();
    const noneHealthy = list.every((s) => !s.healthy);
    // A restart is "under way" until the restarted instance is ready or its grace ran out.
    const busy = actions.size > 0 || list.some((s) => s.paused || (s.restarts > 0 && s.inGrace(t)));
    const failing = list.filter((s) => s.phase === "unhealthy" && !owned(s)).sort((a, b) => b.consecutiveFailures - a.consecutiveFailures);
    if (failing.length > 0) {
      // With none healthy there is no capacity left to protect: restart them all at once.
      if (noneHealthy) for (const s of failing) restart(s, "unhealthy");
      else if (!busy) restart(failing[0]!, "unhealthy");
      return;
    }
    if (busy) return;
    // The longest-running first: growth comes with uptime, and each instance gets its turn. A limit of 0 is off.
    const over = list.filter((s) => s.healthy && limitOf(s) > 0 && (s.rssBytes ?? 0) > limitOf(s)).sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0))[0];
    // Replacing drains it; only do that while another instance serves (or there is just one).
    if (over && (list.length === 1 || list.some((s) => s !== over && s.healthy))) restart(over, "memory");
  };

  const runOnce = async () => {
    await Promise.all([...states.values()].map(observe));
    updateAllDown();
    if (!stopped) act();
  };

  return {
    runOnce,
    handleExit,
    /** Probes and acts every probeIntervalMs until `signal` aborts; then waits for actions under way. */
    async run(signal: AbortSignal): Promise<void> {
      const unsubscribe = runner.onUnexpectedExit(handleExit);
      const onAbort = () => { stopped = true; abort.abort(); };
      signal.addEventListener("abort", onAbort, { once: true });
      while (!signal.aborted) {
        const began = now();
        try { await runOnce(); } catch (error) { log.error("watch round failed", { error }); }
        await sleep(Math.max(0, opts.probeIntervalMs - (now() - began)), signal);
      }
      unsubscribe();
      await Promise.allSettled([...actions.values()]);
    },
    /** Resolves when no restart is under way (tests, and the rolling restart before it starts). */
    async idle(): Promise<void> {
      while (actions.size > 0) await Promise.allSettled([...actions.values()]);
    },
    /** A rolling restart takes the instance: no probes counted, no restarts, until resume. */
    pause(port: number) {
      const state = states.get(port);
      if (state) state.paused = true;
    },
    /** Gives the instance back; `probe` is the rolling restart's last probe of it, if any. */
    resume(port: number, probe?: ProbeResult) {
      const state = states.get(port);
      if (!state) return;
      state.paused = false;
      state.restarts++;
      metrics.instanceRestarts.labels(String(port), "rolling").inc();
      state.started(now());
      if (probe) apply(state, state.probed(probe, now()));
      updateAllDown();
    },
    /**
     * Lowers the memory limit of the process that runs on `port` now to `mb`; the usual check then
     * replaces it gracefully if its RSS is above. Refused when the watcher knows no process there.
     */
    lowerMemoryLimit(port: number, mb: number): { ok: boolean; detail: string } {
      const state = states.get(port);
      if (!state) return { ok: false, detail: `no instance on port ${port}` };
      if (state.pid === null) return { ok: false, detail: `the instance on ${port} has no running process` };
      lowered.set(port, { pid: state.pid, bytes: mb * 1024 * 1024 });
      const rss = state.rssBytes === null ? "unknown" : `${Math.round(state.rssBytes / 1024 / 1024)} MB`;
      return { ok: true, detail: `instance ${port} (pid ${state.pid}, RSS ${rss}): memory limit ${mb} MB until this process is replaced` };
    },
    isHealthy: (port: number) => states.get(port)?.healthy ?? false,
    busy: () => actions.size > 0,
    snapshot: (): InstanceSnapshot[] => [...states.values()].map((s) => s.snapshot(now())),
    state: (port: number) => states.get(port),
  };
}

export type Watcher = ReturnType<typeof createWatcher>;
