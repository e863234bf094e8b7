/**
 * The click stream's backlog as gauges, so an alert can tell a stalled pipeline from a quiet one:
 * entries read but not acked (XPENDING), entries not read yet (XINFO GROUPS `lag`, Redis 7+) and
 * the age of the oldest unacked entry. The consumer loop asks for a reading after each round; at
 * most one a second is taken. A failed reading removes the gauges (a gap on the dashboard rather
 * than a stale number) and never throws: consuming must not depend on it.
 */
import type Redis from "ioredis";
import type { Metrics } from "../metrics.ts";
import { betweenRounds } from "./between-rounds.ts";

export interface BacklogOptions {
  /** The command connection (never blocked, short timeout), not the consumer's blocking one. */
  redis: Redis;
  metrics: Metrics;
  key: string;
  group: string;
  /** Least time between two readings (ms, default 1 s; scrapes are 15 s apart). */
  everyMs?: number;
  /** Clock for the age (ms since the epoch); tests pin it. */
  now?: () => number;
}

export interface BacklogReading {
  pending: number;
  /** null: Redis older than 7, or it cannot tell (entries deleted in the middle of the stream). */
  lag: number | null;
  oldestPendingAgeSeconds: number;
}

/** `lag` from one group's XINFO GROUPS entry (a flat name/value list); null when absent or nil. */
export function lagOf(groupInfo: readonly unknown[]): number | null {
  for (let i = 0; i + 1 < groupInfo.length; i += 2) {
    if (groupInfo[i] === "lag") return groupInfo[i + 1] === null ? null : Number(groupInfo[i + 1]);
  }
  return null;
}

/** Milliseconds since the epoch at which an entry id like "1700000000123-0" was added. */
const addedAtMs = (id: string) => Number(id.slice(0, id.indexOf("-")));

export function createBacklogGauges(opts: BacklogOptions) {
  const { redis, metrics, key, group } = opts;
  const now = opts.now ?? Date.now;

  async function read(): Promise<BacklogReading> {
    const [summary, groups] = await Promise.all([
      redis.call("XPENDING", key, group) as Promise<[number, string | null, string | null, unknown]>,
      redis.call("XINFO", "GROUPS", key) as Promise<unknown[][]>,
    ]);
    const info = groups.find((g) => g[1] === group);
    const [pending, oldest] = summary;
    const age = oldest ? Math.max(0, (now() - addedAtMs(oldest)) / 1000) : 0;
    return { pending: Number(pending), lag: info ? lagOf(info) : null, oldestPendingAgeSeconds: age };
  }

  function show(reading: BacklogReading | null): void {
    const { clickStreamPending: pending, clickStreamLag: lag, clickStreamOldestPendingAge: age } = metrics;
    if (reading) {
      pending.set(reading.pending);
      age.set(reading.oldestPendingAgeSeconds);
    } else {
      pending.remove();
      age.remove();
    }
    if (reading?.lag != null) lag.set(reading.lag);
    else lag.remove();
  }

  /** Takes a reading and shows it; null (gauges removed) when Redis could not answer. */
  async function readAndShow(): Promise<BacklogReading | null> {
    const reading = await read().catch(() => null);
    show(reading);
    return reading;
  }

  return betweenRounds(readAndShow, opts.everyMs ?? 1_000, now);
}

export type BacklogGauges = ReturnType<typeof createBacklogGauges>;
