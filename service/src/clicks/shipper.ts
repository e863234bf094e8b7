/**
 * Ships one spool to PostgreSQL: `runOnce` reads one bounded batch from the committed position,
 * commits its rows and the new position together (offsets-repo.ts), then deletes the segments
 * wholly behind the position. Any number of shippers may run on one spool (its own instance, an
 * adopter): the compare-and-set lets exactly one of them commit each batch.
 */
import { unlinkSync } from "node:fs";
import { isSequenceExhausted, isServerError } from "../db/errors.ts";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import type { Click } from "./model.ts";
import type { OffsetsRepo, ShipOutcome } from "./offsets-repo.ts";
import { listSegments } from "./spool-dir.ts";
import { countLines, oldestUnshipped, readBatch, type Position } from "./spool-reader.ts";

export interface ShipperOptions {
  dir: string;
  spoolId: string;
  offsets: OffsetsRepo;
  metrics: Metrics;
  logger: Logger;
  /** Most lines per transaction; config.clickBatchMax. */
  batchMax: number;
  /** Clicks this process appended so far (its writer), 0 for an adopted spool. */
  appended?: () => number;
  /** Bytes of segments deleted, for the writer's size bound. */
  onDeleted?: (bytes: number) => void;
}

export interface RoundResult {
  /** Lines the round committed (clicks written, of deleted links, unreadable). */
  consumed: number;
  written: number;
  caughtUp: boolean;
  /** Another shipper held the spool, or had moved it; try again soon. */
  contended: boolean;
}

// A data error (SQLSTATE class 22) fails the same way on every retry; one such click must not
// block every later one. An exhausted id sequence (2200H) is no click's fault: the batch waits
// in the spool for the operator instead of being dropped click by click.
const isDataError = (error: unknown) =>
  isServerError(error) && String(error.code).startsWith("22") && !isSequenceExhausted(error);

const same = (a: Position, b: Position) => a.segment === b.segment && a.offset === b.offset;

export function createSpoolShipper(opts: ShipperOptions) {
  const { dir, spoolId, offsets, metrics, logger } = opts;
  const appended = opts.appended ?? (() => 0);
  // undefined until read from PostgreSQL; `known` tells "never shipped" apart from "not read yet".
  let committed: Position | undefined;
  let known = false;
  let backlog: { counted: number; appendedAt: number; consumed: number } | undefined;
  let oldest: Date | undefined;
  // After a data error the next batches go one line at a time until the bad line is past.
  let careful = 0;

  const start = (): Position => committed ?? { segment: listSegments(dir)[0]?.n ?? 0, offset: 0 };

  async function load(): Promise<void> {
    committed = await offsets.position(spoolId);
    known = true;
    const appendedAt = appended(); // same turn as countLines' listing
    backlog = { counted: await countLines(dir, start()), appendedAt, consumed: 0 };
  }

  /**
   * A batch PostgreSQL refuses as data fails; the next rounds then ship one line each
   * (`careful`), and a single click still refused is dropped, counted, and stepped over.
   */
  async function ship(from: Position | undefined, to: Position, clicks: readonly Click[]): Promise<{ outcome: ShipOutcome; rejected: number }> {
    try {
      return { outcome: await offsets.ship(spoolId, from, to, clicks), rejected: 0 };
    } catch (error) {
      if (!isDataError(error) || clicks.length !== 1) throw error;
      logger.error("click refused by postgres; dropped", { spool: spoolId, error });
      return { outcome: await offsets.ship(spoolId, from, to, [], [clicks[0]!.id]), rejected: 1 };
    }
  }

  function deleteShipped(): void {
    const segments = listSegments(dir);
    const newest = segments.at(-1)?.n;
    let bytes = 0;
    for (const s of segments) {
      if (committed === undefined || s.n >= committed.segment || s.n === newest) continue;
      try {
        unlinkSync(s.path);
        bytes += s.bytes;
      } catch { /* another shipper deleted it first */ }
    }
    if (bytes > 0) opts.onDeleted?.(bytes);
  }

  async function round(): Promise<RoundResult> {
    if (!known) await load();
    const from = start();
    const read = await readBatch(dir, from, careful > 0 ? 1 : opts.batchMax);
    if (read.problem) throw new Error(`cannot read the click spool: ${read.problem}`);
    // The batch starts at the oldest unshipped click: the backlog's age is right while this round
    // waits on PostgreSQL (an outage can hold it for seconds), not only once it ends.
    if (read.clicks.length > 0) oldest = read.clicks[0]!.at;
    const lines = read.clicks.length + read.unreadable;
    if (lines === 0 && same(read.next, from)) return { consumed: 0, written: 0, caughtUp: true, contended: false };
    const { outcome, rejected } = await ship(committed, read.next, read.clicks);
    if (outcome.kind === "busy") return { consumed: 0, written: 0, caughtUp: false, contended: true };
    if (outcome.kind === "moved") {
      known = false; // and count the backlog again: another shipper consumed some
      return { consumed: 0, written: 0, caughtUp: false, contended: true };
    }
    if (careful > 0) careful--;
    committed = read.next;
    if (backlog) backlog.consumed += lines;
    metrics.clicksShipped.inc(outcome.written);
    if (rejected > 0) metrics.clicksDropped.inc({ reason: "rejected" }, rejected);
    metrics.clicksDropped.inc({ reason: "link_deleted" }, read.clicks.length - rejected - outcome.written);
    if (read.unreadable > 0) metrics.clicksDropped.inc({ reason: "unreadable" }, read.unreadable);
    deleteShipped();
    return { consumed: lines, written: outcome.written, caughtUp: read.caughtUp, contended: false };
  }

  return {
    spoolId,
    dir,
    /** One batch; throws when PostgreSQL or the spool cannot be read (the loop counts and retries). */
    async runOnce(): Promise<RoundResult> {
      try {
        const result = await round();
        oldest = result.caughtUp ? undefined : await oldestUnshipped(dir, start());
        return result;
      } catch (error) {
        if (isDataError(error)) careful = opts.batchMax;
        oldest = await oldestUnshipped(dir, start()).catch(() => oldest);
        throw error;
      }
    },
    /** Clicks in the spool not yet shipped; undefined until the position was first read. */
    unshipped: (): number | undefined => backlog && Math.max(0, backlog.counted + appended() - backlog.appendedAt - backlog.consumed),
    /** When the oldest unshipped click was answered, as of the last round. */
    oldest: () => oldest,
  };
}

export type SpoolShipper = ReturnType<typeof createSpoolShipper>;
