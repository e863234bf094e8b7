/**
 * @module Caddy kept running: in the quick start nothing but the supervisor would bring back a
 * Caddy that died (a crash, an OOM kill, a drill's SIGKILL), and without it the public port is
 * closed while every instance is healthy. Each exit before stop() starts it again with the same
 * options and the same metrics address, after a short, doubling delay.
 */
import type { Logger } from "../../../service/src/lib/logger.ts";
import { startCaddy, type CaddyOptions, type RunningCaddy } from "./caddy.ts";

/** Attempts to start it again after one exit, 100 ms apart and doubling up to 5 s: about a minute in all. */
const RESTART_ATTEMPTS = 16;

/** Starts Caddy and restarts it whenever it exits; `pid` always names the current process. */
export async function keepCaddyRunning(opts: CaddyOptions): Promise<RunningCaddy> {
  const log = opts.logger.child({ component: "caddy" });
  let current = await startCaddy(opts);
  const again: CaddyOptions = { ...opts, metricsAddress: current.metrics };
  let stopping = false;

  const restartOnce = async (): Promise<boolean> => {
    for (let attempt = 0; attempt < RESTART_ATTEMPTS; attempt++) {
      await Bun.sleep(Math.min(100 * 2 ** attempt, 5_000));
      if (stopping) return false;
      try {
        current = await startCaddy(again);
        if (stopping) await current.stop();
        return !stopping;
      } catch (error) {
        log.error("caddy did not start again", { attempt: attempt + 1, error });
      }
    }
    return false;
  };
  const loop = (async () => {
    for (;;) {
      const exiting = current;
      await exiting.exited;
      if (stopping) return;
      log.warn("caddy exited; starting it again", { pid: exiting.pid });
      if (!(await restartOnce())) return;
    }
  })();

  return {
    get pid() { return current.pid; },
    admin: current.admin,
    metrics: current.metrics,
    exited: loop,
    async stop() {
      stopping = true;
      await current.stop();
      await loop;
    },
  };
}
