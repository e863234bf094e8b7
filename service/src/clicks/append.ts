/**
 * Appends clicks to the stream in batches. Every click recorded in one turn of the event loop
 * goes out in one EVALSHA that XADDs each of them (still one stream entry per click): one round
 * trip, one command for ioredis to build and time out, one short reply, however many redirects
 * arrived together. All callers of a batch share its promise: it resolves once Redis holds every
 * click of the batch and rejects when the script failed, and each caller then takes its own
 * fallback (a click that did land is deduplicated by its id downstream).
 */
import type Redis from "ioredis";
import { luaScript } from "../redis.ts";

// KEYS[1]: the stream. ARGV[1]: MAXLEN (approximate trim), ARGV[2]: the field name,
// ARGV[3..]: one entry's value each.
const APPEND = luaScript(`
for i = 3, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', ARGV[2], ARGV[i])
end
return #ARGV - 2
`);

// Redis runs nothing else while a script runs; a busier turn is split into several scripts.
const BATCH_MAX = 500;

interface Batch {
  values: string[];
  done: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

export interface StreamAppenderOptions {
  redis: Redis;
  key: string;
  /** Approximate cap on the stream's entries (XADD MAXLEN ~). */
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
    APPEND(opts.redis, keys, [maxLen, opts.field, ...batch.values]).then(batch.resolve, batch.reject);
  }

  function start(): Batch {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const batch: Batch = { values: [], done: promise, resolve, reject };
    // After the I/O phase: every request read in this turn has recorded its click by then.
    setImmediate(() => { if (open === batch) send(batch); });
    return batch;
  }

  return {
    /** Appends an entry `field value` with the rest of this turn's; settles with that batch. */
    append(value: string): Promise<void> {
      const batch = (open ??= start());
      batch.values.push(value);
      if (batch.values.length >= BATCH_MAX) send(batch);
      return batch.done;
    },
  };
}
