/**
 * The ban sync: a tick around `runOnce`, which copies PostgreSQL's active bans into Redis and
 * this instance's memory. That is what makes bans survive a Redis flush or restart and reach an
 * instance that runs on memory while Redis is down.
 */
import type { Logger } from "../lib/logger.ts";
import type { Limits } from "./service.ts";

export function createBanSync(limits: Limits, opts: { everyMs: number; logger: Logger }) {
  let timer: ReturnType<typeof setInterval> | undefined;
  let running: Promise<void> | undefined;

  /** One round; never throws (PostgreSQL down: the stores keep what they have). */
  function runOnce(): Promise<void> {
    running ??= limits.syncOnce()
      .catch((error: unknown) => opts.logger.warn("ban sync failed", { error }))
      .finally(() => { running = undefined; });
    return running;
  }

  return {
    runOnce,
    start() {
      limits.onRedisBack = () => void runOnce();
      void runOnce();
      timer = setInterval(() => void runOnce(), opts.everyMs);
      timer.unref?.();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}

export type BanSync = ReturnType<typeof createBanSync>;
