/**
 * Builds the click path for deps.ts: this instance's spool (CLICK_SPOOL_DIR/<port>), the writer
 * redirects append to, and the shipping job that moves the spool (and orphaned ones beside it)
 * into PostgreSQL. CLICKS=off hands redirects a sink that keeps nothing, while shipping still
 * drains what earlier runs left.
 */
import { join } from "node:path";
import type { ServiceConfig } from "../config.ts";
import type { Sql } from "../db/client.ts";
import type { Job } from "../lib/jobs.ts";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import { createAdopter } from "./adopt.ts";
import { createClickCaps, type ClickCaps } from "./caps.ts";
import { createClaimRelease } from "./claim-release.ts";
import { createOffsetsRepo } from "./offsets-repo.ts";
import { createClicksRepo } from "./repo.ts";
import { createSpoolShipper } from "./shipper.ts";
import { createShipping, type SpoolBacklog } from "./shipping.ts";
import type { ClickSink } from "./sink.ts";
import { ensureSpoolId, instanceSpoolDir } from "./spool-dir.ts";
import { createSpoolWriter } from "./spool-writer.ts";

export interface ClickPipeline {
  sink: ClickSink;
  /** The spool's backlog for /health. */
  backlog(): SpoolBacklog;
  /** Shipping: `serve` starts it once it listens; its stop writes the last clicks and ships what it can. */
  job: Job;
  /** Slots of capped links (max_clicks), claimed in PostgreSQL under this spool's id. */
  caps: ClickCaps;
}

/** Longest the last ship at shutdown takes (ms): inside linkfort@.service's TimeoutStopSec with the drain. */
const STOP_SHIP_MS = 10_000;
/** How often a caught-up shipper looks for orphaned click-cap claims of its spool again (ms). */
const CLAIM_RELEASE_EVERY_MS = 5_000;

/** CLICK_SPOOL_DIR, or DATA_DIR/spool: the root that holds one directory per instance. */
export const spoolRoot = (config: Pick<ServiceConfig, "clickSpoolDir" | "dataDir">) => config.clickSpoolDir ?? join(config.dataDir, "spool");

export function wireClicks(deps: { config: ServiceConfig; sql: Sql; metrics: Metrics; logger: Logger }): ClickPipeline {
  const { config, metrics, logger } = deps;
  const root = spoolRoot(config);
  const dir = instanceSpoolDir(root, config.port);
  const spoolId = ensureSpoolId(dir);
  const offsets = createOffsetsRepo(deps.sql, createClicksRepo(deps.sql));
  metrics.clickSpoolMaxBytes.set(config.clickSpoolMaxBytes);
  const writer = createSpoolWriter({
    dir, spoolId, metrics, logger,
    sync: config.clickSync === "batch", segmentBytes: config.clickSegmentBytes, maxBytes: config.clickSpoolMaxBytes,
  });
  writer.open();
  const caps = createClickCaps({ sql: deps.sql, spoolId, track: config.clicks });
  const claims = createClaimRelease({ sql: deps.sql, caps, metrics, logger, everyMs: CLAIM_RELEASE_EVERY_MS });
  const shipper = claims.wrap(createSpoolShipper({
    dir, spoolId, offsets, metrics, logger, batchMax: config.clickBatchMax,
    appended: writer.appended, onDeleted: writer.forget,
  }));
  const adopter = createAdopter({ root, ownDir: dir, offsets, metrics, logger, batchMax: config.clickBatchMax, staleMs: config.clickSpoolAdoptAfterMs, claims });
  const shipping = createShipping({
    shipper, writer, adopter, metrics, logger,
    idleMs: config.clickShipMs, adoptEveryMs: Math.min(10_000, config.clickSpoolAdoptAfterMs / 3), stopTimeoutMs: STOP_SHIP_MS,
  });
  logger.info("click spool open", { dir, spool: spoolId, sync: config.clickSync });
  const sink: ClickSink = {
    record(click) {
      if (!config.clicks) return;
      metrics.clicksRecorded.inc();
      return writer.append(click);
    },
    flushNow: shipping.flushNow,
    stop: shipping.stop,
  };
  return { sink, backlog: shipping.backlog, job: { name: "click shipping", start: shipping.start, stop: shipping.stop }, caps };
}
