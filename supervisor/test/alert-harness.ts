/** Builds an alerter against a running Discord stand-in, with a captured log and its own metrics. */
import { createLogger, type Logger } from "../../service/src/lib/logger.ts";
import { createAlerter, type AlerterOptions, type AlertService } from "../src/alerts/alerter.ts";
import { createSupervisorMetrics, type SupervisorMetrics } from "../src/metrics.ts";

export interface AlertRig {
  alerter: AlertService;
  metrics: SupervisorMetrics;
  logs: Record<string, unknown>[];
  logger: Logger;
}

export function alertRig(overrides: Partial<AlerterOptions> = {}): AlertRig {
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger("debug", {}, (line) => logs.push(JSON.parse(line) as Record<string, unknown>));
  const metrics = createSupervisorMetrics();
  const alerter = createAlerter({
    dedupMs: 60_000, queueMax: 100, metrics, logger,
    requestTimeoutMs: 2_000, stopGraceMs: 500, retry: { maxAttempts: 4, baseMs: 50, maxMs: 1_000 },
    ...overrides,
  });
  return { alerter, metrics, logs, logger };
}

/** The value of one labelled series of a counter (0 when never incremented). */
export async function counterValue(
  counter: { get(): Promise<{ values: { value: number; labels: Record<string, string | number | undefined> }[] }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await counter.get();
  const match = values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
  return match?.value ?? 0;
}

export const alert = (key: string, severity: "critical" | "warning" | "info" = "critical") => ({
  key, severity, title: `${key} happened`, detail: `detail of ${key}`,
});
