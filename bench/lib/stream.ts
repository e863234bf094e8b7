/**
 * The click stream's backlog as the consumer group sees it. The consumers may fall behind during
 * a measurement; waiting for them before the next one keeps one scenario's clicks from being
 * written (and costing CPU) during another's, and the wait itself says how far behind they were.
 */
import Redis from "ioredis";

/** Entries not yet read by the group (lag) plus read but not acked (pending); 0 when no group yet. */
export async function streamBacklog(redis: Redis, key = "lf:clicks", group = "linkfort"): Promise<number> {
  const groups = (await redis.xinfo("GROUPS", key).catch(() => [])) as unknown[][];
  for (const flat of groups) {
    const info = new Map<string, unknown>();
    for (let i = 0; i + 1 < flat.length; i += 2) info.set(String(flat[i]), flat[i + 1]);
    if (info.get("name") === group) return Number(info.get("pending") ?? 0) + Number(info.get("lag") ?? 0);
  }
  return 0;
}

/** Waits until the group has caught up; resolves with the seconds it took. */
export async function waitStreamDrained(url: string, timeoutMs = 300_000): Promise<number> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const started = performance.now();
  try {
    while ((await streamBacklog(redis)) > 0) {
      if (performance.now() - started > timeoutMs) throw new Error(`the click stream did not drain within ${timeoutMs / 1000} s`);
      await Bun.sleep(100);
    }
    return (performance.now() - started) / 1000;
  } finally {
    redis.disconnect();
  }
}
