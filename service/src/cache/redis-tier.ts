/**
 * The shared tier: one string per short code in Redis under `lf:code:<code>` (what it holds is
 * the redirect's business, see redirect/model.ts), so one instance's PostgreSQL lookup serves
 * them all. Every Redis failure is a miss: the client fails fast while Redis is down (see
 * redis.ts), so this never throws and never waits long.
 *
 * Invalidation writes a tombstone instead of deleting, and fills only set a key that does not
 * exist (NX): a lookup that read PostgreSQL just before a write committed cannot put the old
 * answer back after the write's tombstone, as long as it fills within TOMBSTONE_MS of reading.
 *
 * A value read here is input, not trusted: `accept` (the redirect's decode) must take it, or it
 * is a miss, counted, and deleted (only if it still holds that value, so a tombstone written
 * meanwhile stays), so the lookup's fill puts back what PostgreSQL says.
 */
import type { Counter } from "prom-client";
import { luaScript, type RedisClients } from "../redis.ts";

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
// Deletes KEYS[1] only while it still holds ARGV[1].
const deleteIfSame = luaScript("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0");

export interface TierChecks {
  /** True for a value linkfort could have written; anything else is a miss and is deleted. */
  accept(raw: string): boolean;
  /** Counts the values `accept` refused. */
  rejected?: Pick<Counter, "inc">;
}

// One pipeline per this many codes: a user with thousands of links is one round trip per chunk.
const TOMBSTONE_BATCH = 1_000;

export function createRedisTier(redis: RedisClients | undefined, checks?: TierChecks) {
  function reject(key: string, raw: string): TierRead {
    checks?.rejected?.inc();
    // Not awaited: the caller goes to PostgreSQL at once; the delete goes first on this connection.
    if (redis) deleteIfSame(redis.command, [key], [raw]).catch(() => undefined);
    return MISS;
  }

  return {
    /** True when there is a Redis to talk to at all (REDIS_URL set). */
    configured: redis !== undefined,

    async get(shortCode: string): Promise<TierRead> {
      // Skipping the call while down saves a rejected promise per redirect during an outage.
      if (!redis?.up) return ERROR;
      try {
        const key = codeKey(shortCode);
        const raw = await redis.command.get(key);
        if (raw === null || raw === TOMBSTONE) return MISS;
        return checks && !checks.accept(raw) ? reject(key, raw) : { status: "hit", raw };
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
