/**
 * Hot-path counts kept in plain numbers and handed to prom-client when a scrape reads the metric
 * (its `collect` hook). A labelled prom-client `inc` validates and hashes its labels on every
 * call; on a redirect, five such calls were about a fifth of the request's CPU. Values are exact
 * at every scrape (and every `get()`); only the work moves from each request to each scrape.
 */
import type { Counter, Gauge } from "prom-client";

type Collect = () => void | Promise<void>;

/** Runs `flush` before the metric's own collect hook (if any) each time it is read. */
function beforeRead(metric: object, flush: () => void): void {
  // `collect` is prom-client's documented scrape-time hook; the constructor stores the option as
  // this property, so setting it later behaves the same.
  const target = metric as { collect?: Collect };
  const previous = target.collect;
  target.collect = function (this: unknown) {
    flush();
    return previous?.call(this);
  };
}

export interface Tally {
  inc(): void;
}

/** Counter children whose increments wait in a number until the counter is read. */
export function tallies<L extends string>(counter: Counter<L>) {
  const pending: { labels: Partial<Record<L, string>>; n: number }[] = [];
  beforeRead(counter, () => {
    for (const entry of pending) {
      if (entry.n === 0) continue;
      counter.inc(entry.labels, entry.n);
      entry.n = 0;
    }
  });
  return {
    labels(labels: Partial<Record<L, string>>): Tally {
      const entry = { labels, n: 0 };
      pending.push(entry);
      return { inc: () => { entry.n++; } };
    },
  };
}

/** An unlabelled gauge moved by plain increments and decrements, added up when it is read. */
export function deferredGauge(gauge: Gauge) {
  let delta = 0;
  beforeRead(gauge, () => {
    if (delta !== 0) gauge.inc(delta);
    delta = 0;
  });
  return { inc: () => { delta++; }, dec: () => { delta--; } };
}
