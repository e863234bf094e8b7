/**
 * The shared tier: what a code resolved to, in Redis under `lf:code:<code>`, so one instance's
 * PostgreSQL lookup serves them all. Every Redis failure is a miss: the client fails fast while
 * Redis is down (see redis.ts), so this never throws and never waits long.
 */
import type { RedisClients } from "../redis.ts";
import type { Resolution } from "../redirect/model.ts";

export const codeKey = (shortCode: string) => `lf:code:${shortCode}`;

/** A read: the cached resolution, nothing cached, or Redis not answering (both are misses). */
export type TierRead = { status: "hit"; resolution: Resolution } | { status: "miss" } | { status: "error" };

const MISS: TierRead = { status: "miss" };
const ERROR: TierRead = { status: "error" };

// Compact on purpose (this is read on every LRU miss): "m", "i", or "f<urlId> <originalUrl>".
// The code itself is in the key, so it is not stored.
export function encode(resolution: Resolution): string {
  if (resolution.kind === "missing") return "m";
  if (resolution.kind === "inactive") return "i";
  return `f${resolution.target.urlId} ${resolution.target.originalUrl}`;
}

/** Undefined for anything we did not write (an older format, a hand-set key): treat as a miss. */
export function decode(shortCode: string, raw: string): Resolution | undefined {
  if (raw === "m") return { kind: "missing" };
  if (raw === "i") return { kind: "inactive" };
  if (!raw.startsWith("f")) return undefined;
  const space = raw.indexOf(" ");
  const urlId = Number(raw.slice(1, space));
  if (space < 2 || !Number.isSafeInteger(urlId)) return undefined;
  return { kind: "found", target: { urlId, shortCode, originalUrl: raw.slice(space + 1) } };
}

export function createRedisTier(redis: RedisClients | undefined) {
  return {
    async get(shortCode: string): Promise<TierRead> {
      // Skipping the call while down saves a rejected promise per redirect during an outage.
      if (!redis?.up) return ERROR;
      try {
        const raw = await redis.command.get(codeKey(shortCode));
        if (raw === null) return MISS;
        const resolution = decode(shortCode, raw);
        return resolution ? { status: "hit", resolution } : MISS;
      } catch {
        return ERROR;
      }
    },

    /** Fire and forget from the caller's view: resolves false when Redis did not take it. */
    async set(shortCode: string, resolution: Resolution, ttlMs: number): Promise<boolean> {
      if (!redis?.up) return false;
      try {
        await redis.command.set(codeKey(shortCode), encode(resolution), "PX", ttlMs);
        return true;
      } catch {
        return false;
      }
    },

    /** Drops codes and tells every instance (channel `lf:invalidate`, one message per code). */
    async invalidate(shortCodes: readonly string[], channel: string): Promise<boolean> {
      if (!redis?.up || shortCodes.length === 0) return false;
      try {
        const pipeline = redis.command.multi();
        pipeline.del(...shortCodes.map(codeKey));
        for (const code of shortCodes) pipeline.publish(channel, code);
        await pipeline.exec();
        return true;
      } catch {
        return false;
      }
    },
  };
}

export type RedisTier = ReturnType<typeof createRedisTier>;
