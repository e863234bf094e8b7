/**
 * @module Which state flips alert, and how. The watcher calls these only when a condition
 * flips (instance-state.ts), so a long outage is one alert and one "resolved", not one per probe.
 */
import type { Logger } from "../../../service/src/lib/logger.ts";
import type { Alerter } from "../alerts/alert.ts";
import type { Flip, InstanceState, RestartReason } from "./instance-state.ts";

export const alertKeys = {
  down: (port: number) => `instance-down:${port}`,
  restarted: (port: number) => `instance-restarted:${port}`,
  flapping: (port: number) => `instance-flapping:${port}`,
  allDown: "all-down",
} as const;

export function reportFlips(flips: Flip[], state: InstanceState, alerter: Alerter, logger: Logger): void {
  const port = state.port;
  const detail = state.lastError ?? "no detail";
  for (const flip of flips) {
    if (flip.condition === "down" && flip.now) {
      logger.warn("instance down", { port, error: state.lastError, consecutive_failures: state.consecutiveFailures });
      alerter.raise({ key: alertKeys.down(port), severity: "warning", title: `Instance ${port} is down`, detail });
    } else if (flip.condition === "down") {
      logger.info("instance ready again", { port });
      alerter.resolve(alertKeys.down(port), `instance ${port} answers /ready again`);
    } else if (flip.now) {
      logger.error("instance flapping", { port, restarts: state.restarts });
      alerter.raise({
        key: alertKeys.flapping(port), severity: "critical", title: `Instance ${port} is flapping`,
        detail: `restarted ${state.restarts} times; restarts now back off exponentially. Last error: ${detail}`,
      });
    } else {
      logger.info("instance stable again", { port });
      alerter.resolve(alertKeys.flapping(port), `instance ${port} has stayed up`);
    }
  }
}

export function reportRestart(state: InstanceState, reason: RestartReason, delayMs: number, alerter: Alerter, logger: Logger): void {
  const why: Record<RestartReason, string> = {
    crashed: `exited (${state.lastError ?? "unknown"})`,
    unhealthy: `failed ${state.consecutiveFailures} probes in a row (${state.lastError ?? "unknown"})`,
    memory: `resident memory ${Math.round((state.rssBytes ?? 0) / 1048576)} MB passed the limit`,
    rolling: "rolling restart",
  };
  logger.warn("restarting instance", { port: state.port, reason, delay_ms: delayMs, restarts: state.restarts });
  alerter.raise({
    key: alertKeys.restarted(state.port), severity: "info", title: `Instance ${state.port} restarted`,
    detail: `${why[reason]}${delayMs > 0 ? `; restarting in ${delayMs} ms (backoff)` : ""}`,
  });
}

/** all-down starts when every instance is down and clears only when one is ready again. */
export function reportAllDown(now: boolean, alerter: Alerter, logger: Logger, ports: number[]): void {
  if (now) {
    logger.error("all instances down", { ports });
    alerter.raise({ key: alertKeys.allDown, severity: "critical", title: "All linkfort instances are down", detail: `ports ${ports.join(", ")}: nothing can serve` });
  } else {
    logger.info("an instance is ready again; not all down");
    alerter.resolve(alertKeys.allDown, "at least one instance answers /ready again");
  }
}
