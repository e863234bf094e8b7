/**
 * Appends clicks to this instance's spool: every click recorded in one event-loop turn goes into
 * one `write`, and each click's promise resolves only after that write returned (and, with
 * CLICK_SYNC=batch, after its fdatasync), so the redirect releases a 302 whose click the page
 * cache already holds: a kill -9 cannot lose it. With a sync in flight, the clicks that arrive
 * meanwhile wait and go out together in the next write (group commit).
 *
 * A click that cannot be kept (spool at CLICK_SPOOL_MAX_BYTES, disk full, unwritable) is counted
 * in linkfort_clicks_dropped_total and its promise still resolves: a redirect never fails for it.
 */
import { closeSync, fdatasync, ftruncateSync, openSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import type { Click } from "./model.ts";
import { listSegments, syncDir } from "./spool-dir.ts";
import { encodeClick, encodeHeader, segmentName } from "./spool-format.ts";

export interface SpoolWriterOptions {
  dir: string;
  spoolId: string;
  /** fdatasync after each write (CLICK_SYNC=batch); default off. */
  sync: boolean;
  /** A segment past this size is closed and the next one started (bytes). */
  segmentBytes: number;
  /** Clicks that would take the spool past this are dropped (bytes). */
  maxBytes: number;
  metrics: Metrics;
  logger: Logger;
}

/** After a failed write, how long batches are dropped before the disk is tried again (ms). */
const RETRY_MS = 1_000;

/** `kept`: the write returned (click caps need to know, caps.ts); false when the batch was dropped. */
interface Batch { lines: string[]; done: Promise<boolean>; resolve: (kept: boolean) => void }

/** The drop reason for a failed write: a full disk is a capacity matter, the rest a broken disk or permissions. */
export function dropReason(error: unknown): "disk_full" | "unwritable" {
  const code = (error as { code?: unknown }).code;
  return code === "ENOSPC" || code === "EDQUOT" ? "disk_full" : "unwritable";
}

export function createSpoolWriter(opts: SpoolWriterOptions) {
  const { dir, metrics, logger } = opts;
  let spoolBytes = listSegments(dir).reduce((sum, s) => sum + s.bytes, 0);
  let segment = Math.max(0, ...listSegments(dir).map((s) => s.n));
  let fd: number | undefined;
  let size = 0;
  let batch: Batch | undefined;
  let scheduled = false;
  let syncing = false;
  let failing: string | undefined;
  let appended = 0;
  let closed = false;
  let retryAt = 0;

  const setBytes = (n: number) => { spoolBytes = n; metrics.clickSpoolBytes.set(n); };
  setBytes(spoolBytes);

  function writeAll(buf: Buffer): void {
    for (let off = 0; off < buf.length;) off += writeSync(fd!, buf, off, buf.length - off);
  }

  /** Never appends to an earlier process's segment: each open makes the next number, exclusively. */
  function openNext(): void {
    const n = segment + 1;
    const path = join(dir, segmentName(n));
    const next = openSync(path, "ax", 0o600);
    segment = n;
    fd = next;
    size = 0;
    const header = Buffer.from(encodeHeader(opts.spoolId, n));
    try {
      writeAll(header);
    } catch (error) {
      closeFd();
      try { unlinkSync(path); } catch { /* a header-less file is skipped by readers anyway */ }
      throw error;
    }
    size = header.length;
    setBytes(spoolBytes + header.length);
    syncDir(dir);
  }

  function closeFd(): void {
    if (fd === undefined) return;
    try { closeSync(fd); } catch { /* closing cannot lose what write() returned for */ }
    fd = undefined;
  }

  /**
   * Writes the batch. On failure it cuts the partial line and closes the segment: the next write
   * starts a new one, so a full disk frees up as the shipper deletes the old one. Until
   * RETRY_MS later, batches are dropped without touching the disk.
   */
  function write(lines: string[]): boolean {
    const buf = Buffer.from(lines.join(""));
    if (spoolBytes + buf.length > opts.maxBytes) return dropped(lines.length, "spool_full", undefined);
    if (failing && failing !== "spool_full" && Date.now() < retryAt) return dropped(lines.length, failing, undefined);
    try {
      if (fd === undefined) openNext();
      writeAll(buf);
    } catch (error) {
      if (fd !== undefined) {
        try { ftruncateSync(fd, size); } catch { /* the segment ends in a partial line; readers skip it */ }
        closeFd();
      }
      retryAt = Date.now() + RETRY_MS;
      return dropped(lines.length, dropReason(error), error);
    }
    size += buf.length;
    setBytes(spoolBytes + buf.length);
    appended += lines.length;
    metrics.clicksSpooled.inc(lines.length);
    if (failing) logger.info("click spool writable again", { dir, was: failing });
    failing = undefined;
    return true;
  }

  function dropped(count: number, reason: string, error: unknown): false {
    metrics.clicksDropped.inc({ reason }, count);
    if (failing !== reason) logger.error("clicks dropped: cannot keep them in the spool", { dir, reason, count, error });
    failing = reason;
    return false;
  }

  function rotateIfFull(): void {
    if (fd !== undefined && size >= opts.segmentBytes) closeFd();
  }

  function flush(): void {
    scheduled = false;
    const b = batch;
    batch = undefined;
    if (!b) return;
    const kept = write(b.lines);
    if (!kept || !opts.sync || fd === undefined) {
      rotateIfFull();
      b.resolve(kept);
      return;
    }
    syncing = true;
    fdatasync(fd, (error) => {
      syncing = false;
      if (error) logger.error("click spool fdatasync failed", { dir, error });
      rotateIfFull();
      // Written either way: the page cache holds it through a kill -9.
      b.resolve(true);
      if (batch) schedule();
    });
  }

  function schedule(): void {
    if (scheduled || syncing) return;
    scheduled = true;
    setImmediate(flush);
  }

  return {
    /** Resolves true once the write (and sync) holding the click returned, false once it was counted as dropped. */
    append(click: Click): Promise<boolean> {
      if (closed) {
        metrics.clicksDropped.inc({ reason: "stopped" });
        return Promise.resolve(false);
      }
      if (!batch) {
        const { promise, resolve } = Promise.withResolvers<boolean>();
        batch = { lines: [], done: promise, resolve };
      }
      batch.lines.push(encodeClick(click));
      schedule();
      return batch.done;
    },
    /** Opens this process's first segment now, so the previous process's last one is final at once. */
    open(): void {
      try { openNext(); } catch (error) { dropped(0, dropReason(error), error); }
    },
    /** The segment being written; older ones are final. */
    currentSegment: () => segment,
    bytes: () => spoolBytes,
    appended: () => appended,
    /** The shipper deleted shipped segments of this many bytes. */
    forget(bytes: number): void { setBytes(Math.max(0, spoolBytes - bytes)); },
    /** Writes what is pending, waits for its sync, closes the file; later clicks are dropped as "stopped". */
    async close(): Promise<void> {
      while (batch || syncing) {
        const b = batch;
        if (b && !syncing) flush();
        await (b?.done ?? Bun.sleep(1));
      }
      closed = true;
      closeFd();
    },
  };
}

export type SpoolWriter = ReturnType<typeof createSpoolWriter>;
