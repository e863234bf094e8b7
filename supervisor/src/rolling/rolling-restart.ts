/**
 * @module Rolling restart (deploys): one instance at a time, restart it through the runner (it
 * drains on SIGTERM while the load balancer drops it), wait until the new process answers
 * /ready, then the next. The watcher is paused for the instance being rolled so it does not
 * fight the restart. Stops at the first instance that does not come back, leaving the rest
 * untouched, and says so.
 */
import type { Logger } from "../../../service/src/lib/logger.ts";
import type { Runner } from "../runners/runner.ts";
import type { ProbeResult } from "../watch/probe.ts";
import { sleep } from "../watch/sleep.ts";

/** The part of the watcher a rolling restart needs. */
export interface RollingWatcher {
  pause(port: number): void;
  resume(port: number, probe?: ProbeResult): void;
  isHealthy(port: number): boolean;
  idle(): Promise<void>;
}

export interface RollingOptions {
  ports: number[];
  runner: Runner;
  watcher: RollingWatcher;
  /** One /ready probe of an instance. */
  probe: (port: number) => Promise<ProbeResult>;
  /** How long a restarted instance has to become ready before the roll stops (ms; START_GRACE_MS). */
  readyTimeoutMs: number;
  /** Time between readiness probes while waiting (ms). */
  pollMs: number;
  /** Pause after an instance is ready, so the load balancer's health check puts it back in rotation before the next one leaves it (ms). */
  settleMs: number;
  logger: Logger;
}

export interface RollingResult {
  ok: boolean;
  detail: string;
  instances: { port: number; ok: boolean; ms: number }[];
}

export function createRollingRestart(opts: RollingOptions): () => Promise<RollingResult> {
  let running = false;
  const log = opts.logger;

  const waitReady = async (port: number): Promise<ProbeResult | null> => {
    const deadline = Date.now() + opts.readyTimeoutMs;
    while (Date.now() < deadline) {
      const result = await opts.probe(port);
      if (result.ok) return result;
      await sleep(opts.pollMs);
    }
    return null;
  };

  const rollOne = async (port: number): Promise<{ ok: boolean; ms: number; error?: string }> => {
    const began = Date.now();
    opts.watcher.pause(port);
    let ready: ProbeResult | null = null;
    try {
      await opts.runner.restart(port);
      ready = await waitReady(port);
    } catch (error) {
      return { ok: false, ms: Date.now() - began, error: error instanceof Error ? error.message : String(error) };
    } finally {
      opts.watcher.resume(port, ready ?? undefined);
    }
    if (!ready) return { ok: false, ms: Date.now() - began, error: `not ready within ${opts.readyTimeoutMs} ms` };
    return { ok: true, ms: Date.now() - began };
  };

  const roll = async (): Promise<RollingResult> => {
    const instances: RollingResult["instances"] = [];
    for (const port of opts.ports) {
      // A restart the watcher started must finish first: one instance out at a time.
      await opts.watcher.idle();
      const othersReady = opts.ports.some((p) => p !== port && opts.watcher.isHealthy(p));
      if (opts.ports.length > 1 && !othersReady) {
        const detail = `stopped before ${port}: no other instance is ready, so restarting it would drop traffic; restarted ${instances.length} of ${opts.ports.length}`;
        log.error("rolling restart stopped", { port, restarted: instances.length });
        return { ok: false, detail, instances };
      }
      log.info("rolling restart: restarting instance", { port });
      const result = await rollOne(port);
      instances.push({ port, ok: result.ok, ms: result.ms });
      if (!result.ok) {
        const detail = `instance ${port} failed: ${result.error}; stopped there, ${opts.ports.length - instances.length} not restarted`;
        log.error("rolling restart stopped", { port, error: result.error });
        return { ok: false, detail, instances };
      }
      log.info("rolling restart: instance ready", { port, ms: result.ms });
      await sleep(opts.settleMs);
    }
    return { ok: true, detail: `restarted ${instances.length} instances one at a time: ${instances.map((i) => `${i.port} (${(i.ms / 1000).toFixed(1)} s)`).join(", ")}`, instances };
  };

  return async () => {
    if (running) return { ok: false, detail: "a rolling restart is already running", instances: [] };
    running = true;
    try {
      return await roll();
    } finally {
      running = false;
    }
  };
}
