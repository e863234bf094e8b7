/**
 * Background work of a program (a LISTEN connection, a shipper, a maintenance loop) as values:
 * building the dependencies starts nothing; `serve` starts the jobs once it listens and stops
 * them in reverse order, as supervisor/src/daemon.ts does with its parts.
 */
import type { Logger } from "./logger.ts";

export interface Job {
  /** Short, for logs ("cache invalidation listener"). */
  name: string;
  /** Starts the work and returns at once; the work runs until stop. */
  start(): void;
  /** Ends the work; resolves once it has ended. Called at most once, after start. */
  stop(): Promise<void>;
}

/** Starts jobs in order and stops the started ones in reverse; each call after the first is a no-op. */
export function jobRunner(jobs: readonly Job[], logger: Logger) {
  const started: Job[] = [];
  let stopping: Promise<void> | undefined;
  return {
    start(): void {
      if (started.length > 0 || stopping) return;
      for (const job of jobs) {
        job.start();
        started.push(job);
      }
    },
    stop(): Promise<void> {
      stopping ??= (async () => {
        for (const job of started.reverse()) {
          await job.stop().catch((error: unknown) => logger.error("stopping a job failed", { job: job.name, error }));
        }
      })();
      return stopping;
    },
  };
}

export type JobRunner = ReturnType<typeof jobRunner>;
