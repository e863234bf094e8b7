/**
 * The shared tier: one string per short code in Redis under `lf:code:<code>` (what it holds is
 * the redirect's business, see redirect/model.ts), so one instance's PostgreSQL lookup serves
 * them all. Every Redis failure is a miss: the client fails fast while Redis is down (see
 * redis.ts), so this never throws and never waits long.
 *
 * Invalidation writes a tombstone instead of deleting, and fills only set a key that does not
 * exist (NX): a lookup that read PostgreSQL just before a write committed cannot put the old
 * answer back after the write's tombstone, as long as it fills within TOMBSTONE_MS of reading.
 */
import type { RedisClients } from "../redis.ts";

export const codeKey = (shortCode: string) => `lf:code:${shortCode}`;

/** Long enough to outlive any fill that read PostgreSQL before the write (see FILL_WITHIN_MS). */
export const TOMBSTONE_MS = 2_000;
/** A lookup slower than this from start to fill does not fill Redis: it may predate a tombstone. */
export const FILL_WITHIN_MS = 1_000;
/** What a tombstone holds; any reader that does not know it treats it as a miss. */
export const TOMBSTONE = "t";

/** A read: the stored string, nothing (or a tombstone), or Redis not answering. */
export type TierRead = { status: "hit"; raw: string } | { status: "miss" } | { status: "error" };

const MISS: TierRead = { status: "miss" };
const ERROR: TierRead = { status: "error" };
// One pipeline per this many codes: a user with thousands of links is one round trip per chunk.
const TOMBSTONE_BATCH = 1_000;

export function createRedisTier(redis: RedisClients | undefined) {
  return {
    /** True when there is a Redis to talk to at all (REDIS_URL set). */
    configured: redis !== undefined,

    async get(shortCode: string): Promise<TierRead> {
      // Skipping the call while down saves a rejected promise per redirect during an outage.
      if (!redis?.up) return ERROR;
      try {
        const raw = await redis.command.get(codeKey(shortCode));
        return raw === null || raw === TOMBSTONE ? MISS : { status: "hit", raw };
      } catch {
        return ERROR;
      }
    },

    /** Fire and forget from the caller's view: resolves false when Redis did not take it. */
    async fill(shortCode: string, raw: string, ttlMs: number): Promise<boolean> {
      if (!redis?.up) return false;
      try {
        return (await redis.command.set(codeKey(shortCode), raw, "PX", ttlMs, "NX")) === "OK";
      } catch {
        return false;
      }
    },

    /** Replaces what the codes held with a short-lived tombstone; false when Redis did not take it. */
    async tombstone(shortCodes: readonly string[]): Promise<boolean> {
      if (!redis || shortCodes.length === 0) return true;
      if (!redis.up) return false;
      try {
        for (let i = 0; i < shortCodes.length; i += TOMBSTONE_BATCH) {
          const pipeline = redis.command.pipeline();
          for (const code of shortCodes.slice(i, i + TOMBSTONE_BATCH)) pipeline.set(codeKey(code), TOMBSTONE, "PX", TOMBSTONE_MS);
          await pipeline.exec();
        }
        return true;
      } catch {
        return false;
      }
    },
  };
}

export type RedisTier = ReturnType<typeof createRedisTier>;
