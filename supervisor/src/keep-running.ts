/**
 * @module A child the quick start cannot do without (Caddy, the embedded PostgreSQL) kept
 * running: each exit before stop() starts it again after a short, doubling delay, up to 16 tries
 * (about a minute) per exit. Nothing else on a machine without systemd would bring it back.
 */
import type { Logger } from "../../service/src/lib/logger.ts";

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

const RESTART_ATTEMPTS = 16;

export function keepRunning<T extends Child>(first: T, start: () => Promise<T>, opts: { name: string; logger: Logger; firstDelayMs: number }): KeptChild<T> {
  let current = first;
  let stopping = false;

  const restartOnce = async (): Promise<boolean> => {
    for (let attempt = 0; attempt < RESTART_ATTEMPTS; attempt++) {
      await Bun.sleep(Math.min(opts.firstDelayMs * 2 ** attempt, 5_000));
      if (stopping) return false;
      try {
        current = await start();
        if (stopping) await current.stop();
        opts.logger.info(`${opts.name} started again`, { attempt: attempt + 1 });
        return !stopping;
      } catch (error) {
        opts.logger.error(`${opts.name} did not start again`, { attempt: attempt + 1, error });
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
