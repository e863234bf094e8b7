/**
 * How old a click receipt must be before it can go. A receipt is what stops a click from being
 * counted twice when it is written again; that can happen to
 *  - a stream entry delivered again: pending on a consumer that crashed between commit and XACK
 *    (claimed after CLICK_STREAM_CLAIM_IDLE_MS, however long no instance runs), or every entry
 *    still in the stream if the group is ever created again from 0;
 *  - a click whose XADD timed out yet landed, so it went both to the stream and to the buffer;
 *  - a buffered batch retried after its commit's answer was lost.
 * Every such second write comes from an entry still in the stream, or from a buffer retry within
 * an outage. So the cutoff is the older of "now" and the oldest entry still in the stream, minus
 * the retention (CLICK_RECEIPT_RETENTION_S): a receipt is kept as long as its entry could be read
 * again, and a day longer by default for buffer retries and clock skew between hosts. Only the
 * entries every group acknowledged are deleted from the stream (trim.ts), so its oldest entry is
 * about the oldest one not yet written, and the stream holds at most about CLICK_STREAM_MAXLEN:
 * the receipts kept are the backlog's plus a day's worth.
 */
import type { RedisClients } from "../redis.ts";

export type Horizon = { cutoff: Date } | { unknown: string };

/** Milliseconds of a stream entry id ("1700000000000-3"): when Redis added it. */
export const entryTime = (id: string) => Number(id.slice(0, id.indexOf("-")));

export async function receiptHorizon(opts: {
  redis: RedisClients | undefined;
  streamKey: string;
  retentionMs: number;
  now?: () => number;
}): Promise<Horizon> {
  const now = (opts.now ?? Date.now)();
  // Without Redis there is no stream: only buffer retries need receipts.
  if (!opts.redis) return { cutoff: new Date(now - opts.retentionMs) };
  // Down: the stream's oldest entry cannot be known, and pruning without it could double-count.
  if (!opts.redis.up) return { unknown: "redis is down" };
  try {
    const first = (await opts.redis.command.call("XRANGE", opts.streamKey, "-", "+", "COUNT", "1")) as [string, unknown][];
    const oldest = first.length > 0 ? entryTime(first[0]![0]) : now;
    if (!Number.isFinite(oldest)) return { unknown: `unreadable stream entry id ${String(first[0]![0])}` };
    return { cutoff: new Date(Math.min(now, oldest) - opts.retentionMs) };
  } catch (error) {
    return { unknown: `cannot read the click stream: ${error instanceof Error ? error.message : String(error)}` };
  }
}
