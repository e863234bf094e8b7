/**
 * @module Caddy kept running: in the quick start nothing but the supervisor would bring back a
 * Caddy that died (a crash, an OOM kill, a drill's SIGKILL), and without it the public port is
 * closed while every instance is healthy. Each exit before stop() starts it again with the same
 * options and the same metrics address, after a short, doubling delay.
 */
import { keepRunning } from "../keep-running.ts";
import { startCaddy, type CaddyOptions, type RunningCaddy } from "./caddy.ts";

/** Starts Caddy and restarts it whenever it exits; `pid` always names the current process. */
export async function keepCaddyRunning(opts: CaddyOptions): Promise<RunningCaddy> {
  const first = await startCaddy(opts);
  const again: CaddyOptions = { ...opts, metricsAddress: first.metrics };
  const kept = keepRunning(first, () => startCaddy(again), { name: "caddy", logger: opts.logger.child({ component: "caddy" }), firstDelayMs: 100 });
  return {
    get pid() { return kept.current().pid; },
    admin: first.admin,
    metrics: first.metrics,
    exited: kept.done,
    stop: kept.stop,
  };
}
