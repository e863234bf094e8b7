/**
 * @module The console's parts, built once by the daemon: the live log (fed by a logger that
 * tees the supervisor's records, and by the instances' output), the incident timeline read from
 * those same records, the golden-signal scraper (whose readings also feed the clicks-dropped
 * alert), and the sign-in rules.
 */
import { isatty } from "node:tty";
import { dirname, join } from "node:path";
import type { Logger } from "../../../service/src/lib/logger.ts";
import type { Alerter } from "../alerts/alert.ts";
import type { SupervisorConfig } from "../config.ts";
import type { InstanceOutputSink } from "../runners/process.ts";
import { controlTokenPath } from "../status/control-token.ts";
import { createClicksDroppedAlerts } from "../watch/clicks-dropped.ts";
import { createConsoleAuth, type ConsoleAuth } from "./auth.ts";
import { createServiceApi, type ServiceApi } from "./service-api.ts";
import { instanceOutput } from "./instance-output.ts";
import { createLogBuffer, teeLogger, type LogBuffer } from "./log-buffer.ts";
import { createSignals, type Signals } from "./signals.ts";
import { openTimeline, type Timeline } from "./timeline.ts";
import { createLoadTests, type LoadTests } from "./load-test.ts";
import { createConsoleDrills, type ConsoleDrills } from "./drills.ts";
import { stackFromConfig } from "../drill/stack.ts";

export interface ConsoleParts {
  /** The supervisor's logger, teed into the live log and the timeline: every part gets this one. */
  logger: Logger;
  logs: LogBuffer;
  timeline: Timeline;
  /** The process runner's output sink for the instances. */
  instanceOutput: InstanceOutputSink;
  /** Built once the instances' URLs are known. */
  start(opts: { readyUrl: (port: number) => string; alerter: Alerter }): { signals: Signals; auth: ConsoleAuth; loadTests: LoadTests; drills: ConsoleDrills; service: ServiceApi; stop(): Promise<void> };
}

/** The timeline lives beside the control token: the supervisor's own state folder. */
export const timelinePath = (config: SupervisorConfig) => join(dirname(controlTokenPath(config)), ".console-timeline.jsonl");

export async function createConsoleParts(opts: {
  config: SupervisorConfig;
  logger: Logger;
  /** How the supervisor's stdout is written (setStdoutFormat); "none" when instance output is ignored. */
  stdout: "json" | "text" | "none";
}): Promise<ConsoleParts> {
  const { config } = opts;
  const logs = createLogBuffer();
  const timeline = await openTimeline(timelinePath(config), (error) => opts.logger.warn("console timeline not written", { error }));
  const logger = teeLogger(opts.logger, (fields) => {
    logs.add("supervisor", fields);
    timeline.observe(fields);
  }, config.logLevel);
  return {
    logger, logs, timeline,
    instanceOutput: instanceOutput({ buffer: logs, forward: opts.stdout, color: isatty(1) && !config.noColor }),
    start({ readyUrl, alerter }) {
      const urlOf = (port: number, path: string) => readyUrl(port).replace(/\/ready$/, path);
      // The charts' scrape also feeds the clicks-dropped alert, so it works without Prometheus.
      const clicksDropped = createClicksDroppedAlerts({ alerter, quietMs: config.clicksDroppedQuietMs });
      const signals = createSignals({ ports: config.ports, metricsUrl: (port) => urlOf(port, "/metrics"), intervalMs: config.consoleScrapeMs, onReading: clicksDropped.observe });
      const service = createServiceApi(config.ports, urlOf);
      const auth = createConsoleAuth({ mode: config.consoleAuth, checkAdminKey: service.checkAdminKey });
      const stack = stackFromConfig(config);
      // One rehearsal at a time: each asks the other whether it runs.
      const loadTests: LoadTests = createLoadTests({ stack, drills: config.drills === "on", logger, busy: () => drills.running() });
      const drills = createConsoleDrills({ stack, drills: config.drills === "on", logger, busy: () => loadTests.running() });
      const scraping = new AbortController();
      const loop = signals.run(scraping.signal);
      return {
        signals, auth, loadTests, drills, service,
        async stop() {
          scraping.abort();
          await Promise.all([loop, loadTests.stop()]);
          await timeline.flushed();
        },
      };
    },
  };
}
