/**
 * @module A child the quick start cannot do without (Caddy, the embedded PostgreSQL) kept
 * running: each exit before stop() starts it again after a short, doubling delay (at most
 * `maxDelayMs`, 5 s), for as long as it takes. Nothing else on a machine without systemd would
 * bring it back, and what keeps it from starting may pass: a full disk stops PostgreSQL (it cannot
 * write WAL) for as long as the disk is full. When a start fails, `alert` (if given) is raised once,
 * and resolved when the child runs again.
 */
import type { Logger } from "../../service/src/lib/logger.ts";
import type { Alerter } from "./alerts/alert.ts";

export interface Child {
  /** Settles when the process has ended. */
  exited: Promise<unknown>;
  stop(): Promise<void>;
}

export interface KeptChild<T extends Child> {
  /** The process running now (a new one after each restart). */
  current(): T;
  /** Settles when the loop has ended: after stop(), or when a restart gave up. */
  done: Promise<void>;
  stop(): Promise<void>;
}

export interface KeepRunningOptions {
  name: string;
  logger: Logger;
  firstDelayMs: number;
  /** The longest wait between two tries (ms, default 5 s). */
  maxDelayMs?: number;
  /** Raised (critical) when a start fails, resolved once one succeeds. */
  alert?: { alerter: Alerter; key: string };
}

export function keepRunning<T extends Child>(first: T, start: () => Promise<T>, opts: KeepRunningOptions): KeptChild<T> {
  const maxDelayMs = opts.maxDelayMs ?? 5_000;
  let current = first;
  let stopping = false;

  const restartOnce = async (): Promise<boolean> => {
    let failed = false;
    for (let attempt = 0; !stopping; attempt++) {
      await Bun.sleep(Math.min(opts.firstDelayMs * 2 ** Math.min(attempt, 20), maxDelayMs));
      if (stopping) return false;
      try {
        current = await start();
        if (stopping) await current.stop();
        opts.logger.info(`${opts.name} started again`, { attempt: attempt + 1 });
        if (failed) opts.alert?.alerter.resolve(opts.alert.key, `${opts.name} runs again (after ${attempt + 1} tries)`);
        return !stopping;
      } catch (error) {
        opts.logger.error(`${opts.name} did not start again`, { attempt: attempt + 1, error });
        if (!failed) {
          opts.alert?.alerter.raise({
            key: opts.alert.key, severity: "critical", title: `${opts.name} does not start`,
            detail: `${error instanceof Error ? error.message : String(error)}; the supervisor tries again every ${maxDelayMs >= 1_000 ? `${Math.round(maxDelayMs / 1000)} s` : `${maxDelayMs} ms`}`,
          });
        }
        failed = true;
      }
    }
    return false;
  };
  const done = (async () => {
    for (;;) {
      await current.exited;
      if (stopping) return;
      opts.logger.warn(`${opts.name} exited; starting it again`);
      if (!(await restartOnce())) return;
    }
  })();

  return {
    current: () => current,
    done,
    async stop() {
      stopping = true;
      await current.stop();
      await done;
    },
  };
}
