/**
 * The click path's housekeeping, every CLICK_MAINTENANCE_MS on each instance, done by one instance
 * at a time (PostgreSQL advisory lock; the others skip the round): prune click receipts past the
 * horizon (receipt-horizon.ts) in small batches, so no long delete holds locks or bloats WAL at
 * once, and remove dead consumer names from the stream's group (dead-consumers.ts).
 */
import { Counter, type Registry } from "prom-client";
import type { Logger } from "../lib/logger.ts";
import type { RedisClients } from "../redis.ts";
import { removeDeadConsumers } from "./dead-consumers.ts";
import { receiptHorizon } from "./receipt-horizon.ts";
import type { ReceiptsRepo } from "./receipts-repo.ts";

export interface ClickMaintenanceOptions {
  repo: ReceiptsRepo;
  redis: RedisClients | undefined;
  /** The app's registry (metrics.registry): the counters below are registered on it. */
  registry: Registry;
  logger: Logger;
  streamKey: string;
  group: string;
  /** config.clickReceiptRetentionS, in ms. */
  retentionMs: number;
  /** config.clickConsumerIdleMaxS, in ms. */
  consumerIdleMs: number;
  everyMs: number;
  /** Receipts per DELETE (default 5000: a statement of milliseconds). */
  batch?: number;
  /** Most DELETEs per round (default 200); what is left waits for the next round. */
  maxBatches?: number;
  /** Tests inject a clock. */
  now?: () => number;
}

export interface MaintenanceResult {
  /** Why the round did nothing: another instance holds the lock, or the horizon is unknown. */
  skipped?: string;
  pruned: number;
  batches: number;
  removedConsumers: string[];
}

function counters(registry: Registry) {
  const existing = (name: string) => registry.getSingleMetric(name) as Counter | undefined;
  return {
    pruned: existing("linkfort_click_receipts_pruned_total") ?? new Counter({
      name: "linkfort_click_receipts_pruned_total", help: "Click receipts deleted past the retention horizon", registers: [registry],
    }),
    consumersRemoved: existing("linkfort_click_stream_consumers_removed_total") ?? new Counter({
      name: "linkfort_click_stream_consumers_removed_total", help: "Idle consumer names without pending entries removed from the click stream group", registers: [registry],
    }),
  };
}

export function createClickMaintenance(opts: ClickMaintenanceOptions) {
  const { repo, redis, logger } = opts;
  const batch = opts.batch ?? 5_000;
  const maxBatches = opts.maxBatches ?? 200;
  const count = counters(opts.registry);
  let timer: ReturnType<typeof setInterval> | undefined;
  let running: Promise<MaintenanceResult> | undefined;
  // Skips are logged when the reason changes, not every round (the instances without the lock skip every time).
  let lastSkip: string | undefined;

  async function round(): Promise<MaintenanceResult> {
    const result: MaintenanceResult = { pruned: 0, batches: 0, removedConsumers: [] };
    const locked = await repo.whileLocked(async (conn) => {
      const horizon = await receiptHorizon({ redis, streamKey: opts.streamKey, retentionMs: opts.retentionMs, now: opts.now });
      if ("unknown" in horizon) {
        result.skipped = `receipt horizon unknown: ${horizon.unknown}`;
      } else {
        while (result.batches < maxBatches) {
          const deleted = await repo.deleteBatch(conn, horizon.cutoff, batch);
          result.batches++;
          result.pruned += deleted;
          if (deleted < batch) break;
        }
      }
      if (redis?.up) result.removedConsumers = await removeDeadConsumers(redis.command, opts.streamKey, opts.group, opts.consumerIdleMs);
      return true;
    });
    if (!locked) result.skipped = "another instance holds the maintenance lock";
    count.pruned.inc(result.pruned);
    count.consumersRemoved.inc(result.removedConsumers.length);
    if (result.pruned > 0 || result.removedConsumers.length > 0) {
      logger.info("click maintenance", { pruned: result.pruned, batches: result.batches, removed_consumers: result.removedConsumers });
    }
    if (result.skipped !== lastSkip) logger.info(result.skipped ? "click maintenance skipped" : "click maintenance running", { reason: result.skipped });
    lastSkip = result.skipped;
    return result;
  }

  /** One round; never throws (PostgreSQL or Redis down: the next round tries again). */
  function runOnce(): Promise<MaintenanceResult> {
    running ??= round()
      .catch((error: unknown) => {
        logger.warn("click maintenance failed", { error });
        return { skipped: `failed: ${error instanceof Error ? error.message : String(error)}`, pruned: 0, batches: 0, removedConsumers: [] };
      })
      .finally(() => { running = undefined; });
    return running;
  }

  return {
    runOnce,
    start(): void {
      timer = setInterval(() => void runOnce(), opts.everyMs);
      timer.unref?.();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}

export type ClickMaintenance = ReturnType<typeof createClickMaintenance>;
