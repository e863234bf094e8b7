/**
 * Appends clicks to the stream in batches. Every click recorded in one turn of the event loop
 * goes out in one EVALSHA that XADDs each of them (still one stream entry per click): one round
 * trip, one command for ioredis to build and time out, one short reply, however many redirects
 * arrived together. All callers of a batch share its promise: it resolves once Redis holds every
 * click of the batch and rejects when the script failed, and each caller then takes its own
 * fallback (a click that did land is deduplicated by its id downstream).
 *
 * The stream is never trimmed here: only entries every group acknowledged are deleted (trim.ts).
 * Its cap is backpressure instead: a batch that finds the stream holding `maxLen` entries is
 * refused whole (STREAM_FULL), and its clicks go to the caller's fallback.
 */
import type Redis from "ioredis";
import { luaScript } from "../redis.ts";

/** The prefix of the error reply a batch gets when the stream is at its cap. */
export const STREAM_FULL = "CLICKSTREAMFULL";

export const isStreamFull = (error: unknown) => error instanceof Error && error.message.startsWith(STREAM_FULL);

// KEYS[1]: the stream. ARGV[1]: the cap, ARGV[2]: the field name, ARGV[3..]: one entry's value
// each. One XLEN for the whole batch, so a batch may end up to BATCH_MAX - 1 entries past the cap.
// Returns the stream's length after the batch.
const APPEND = luaScript(`
local length = redis.call('XLEN', KEYS[1])
if length >= tonumber(ARGV[1]) then
  return redis.error_reply('${STREAM_FULL} the click stream holds ' .. length .. ' entries, its cap is ' .. ARGV[1])
end
for i = 3, #ARGV do
  redis.call('XADD', KEYS[1], '*', ARGV[2], ARGV[i])
end
return length + #ARGV - 2
`);

// Redis runs nothing else while a script runs; a busier turn is split into several scripts.
const BATCH_MAX = 500;

interface Batch {
  values: string[];
  done: Promise<number>;
  resolve(length: number): void;
  reject(error: unknown): void;
}

export interface StreamAppenderOptions {
  redis: Redis;
  key: string;
  /** Entries past which the stream takes no more batches (config.clickStreamMaxLen). */
  maxLen: number;
  /** Each entry is this one field with the appended value. */
  field: string;
}

export function createStreamAppender(opts: StreamAppenderOptions) {
  const keys = [opts.key];
  const maxLen = String(opts.maxLen);
  let open: Batch | undefined;

  function send(batch: Batch): void {
    if (open === batch) open = undefined;
    APPEND(opts.redis, keys, [maxLen, opts.field, ...batch.values]).then((length) => batch.resolve(Number(length)), batch.reject);
  }

  function start(): Batch {
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    const batch: Batch = { values: [], done: promise, resolve, reject };
    // After the I/O phase: every request read in this turn has recorded its click by then.
    setImmediate(() => { if (open === batch) send(batch); });
    return batch;
  }

  return {
    /**
     * Appends an entry `field value` with the rest of this turn's; settles with that batch:
     * the stream's length after it, or the error (isStreamFull: refused at the cap).
     */
    append(value: string): Promise<number> {
      const batch = (open ??= start());
      batch.values.push(value);
      if (batch.values.length >= BATCH_MAX) send(batch);
      return batch.done;
    },
  };
}
