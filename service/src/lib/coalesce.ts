/**
 * Group commit for requests: concurrent calls are gathered and handed to `run` together, so many
 * requests share one statement and one commit. No timer: a call goes out at once while fewer
 * than `maxInFlight` runs are going, so a lone request waits for nothing; under load the calls
 * that arrive while every slot is busy queue up and leave together as the next run, at most
 * `maxBatch` at a time. `run` answers every item on its own (a value or an Error), and `after`
 * (e.g. one cache fence for the whole batch) runs once per batch before the callers hear back,
 * outside the slot, so the next run does not wait for it.
 */

export interface CoalesceOptions<In, Out> {
  maxBatch: number;
  maxInFlight: number;
  /** One outcome per item, in order: a value, or the Error that item's caller gets. */
  run(items: readonly In[]): Promise<(Out | Error)[]>;
  /** Called with each run's outcomes before any caller is answered. */
  after?(outcomes: readonly (Out | Error)[]): Promise<void>;
}

interface Waiting<In, Out> {
  item: In;
  resolve(value: Out): void;
  reject(error: Error): void;
}

export function coalesce<In, Out>(opts: CoalesceOptions<In, Out>): (item: In) => Promise<Out> {
  const queue: Waiting<In, Out>[] = [];
  let inFlight = 0;

  async function flush(batch: Waiting<In, Out>[]): Promise<void> {
    let outcomes: (Out | Error)[];
    try {
      outcomes = await opts.run(batch.map((w) => w.item));
      if (outcomes.length !== batch.length) throw new Error(`coalesce: ${outcomes.length} outcomes for ${batch.length} items`);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      outcomes = batch.map(() => failure);
    } finally {
      inFlight--;
      next();
    }
    if (opts.after) await opts.after(outcomes).catch(() => {});
    batch.forEach((w, i) => {
      const outcome = outcomes[i]!;
      if (outcome instanceof Error) w.reject(outcome);
      else w.resolve(outcome);
    });
  }

  function next(): void {
    while (inFlight < opts.maxInFlight && queue.length > 0) {
      inFlight++;
      void flush(queue.splice(0, opts.maxBatch));
    }
  }

  return (item) => new Promise<Out>((resolve, reject) => {
    queue.push({ item, resolve, reject });
    next();
  });
}
