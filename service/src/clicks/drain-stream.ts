/**
 * `linkfort clicks drain-stream`: the one-shot move of clicks left in the Redis click stream by a
 * release before the click spool. Entries are read in batches, written through click_receipts
 * (so a batch read again after a crash counts once), deleted, and the emptied stream (with its
 * consumer groups) removed. upgrade.sh runs it once the instances run the new release, so no
 * process appends to the stream any more.
 */
import type Redis from "ioredis";
import type { ClicksRepo } from "./repo.ts";
import { parseStreamEntry } from "./stream-entry.ts";
import type { Click } from "./model.ts";

export interface DrainResult {
  read: number;
  written: number;
  /** Entries that were not clicks linkfort wrote; deleted with the rest. */
  unreadable: number;
}

const BATCH = 500;

export async function drainStream(opts: { redis: Redis; repo: Pick<ClicksRepo, "insertOnce">; key: string; batch?: number }): Promise<DrainResult> {
  const { redis, key } = opts;
  const result: DrainResult = { read: 0, written: 0, unreadable: 0 };
  for (;;) {
    const entries = (await redis.call("XRANGE", key, "-", "+", "COUNT", String(opts.batch ?? BATCH))) as [string, string[]][];
    if (entries.length === 0) break;
    const clicks: Click[] = [];
    for (const [, fields] of entries) {
      const click = parseStreamEntry(fields);
      if (click) clicks.push(click);
      else result.unreadable++;
    }
    result.written += await opts.repo.insertOnce(clicks);
    result.read += entries.length;
    await redis.call("XDEL", key, ...entries.map(([id]) => id));
  }
  // Only a stream (or nothing) under the key: any other type there is not ours to delete.
  if ((await redis.type(key)) === "stream") await redis.del(key);
  return result;
}
