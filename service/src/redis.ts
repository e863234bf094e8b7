/**
 * The Redis connections of one instance. Redis is an accelerator, never a single point of
 * failure: commands fail at once while it is down (no offline queue, a short command timeout)
 * so callers take their fallback path instead of waiting, and ioredis reconnects in the
 * background. No pub/sub: cache invalidation rides on PostgreSQL (cache/invalidation.ts).
 */
import { createHash } from "node:crypto";
import Redis from "ioredis";
import type { Logger } from "./lib/logger.ts";

export interface RedisClients {
  /** Commands: cache reads/writes, XADD, rate-limit scripts. */
  command: Redis;
  /** True while the command connection is ready. */
  readonly up: boolean;
  close(): Promise<void>;
}

const OPTIONS = {
  lazyConnect: false,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 1_000,
  // A hung Redis must not hold a redirect: give up on a command after this and fall back.
  commandTimeout: 250,
  // Commands issued in the same tick (the XADDs of concurrent redirects) share one round trip.
  enableAutoPipelining: true,
  // Reconnect forever, at most every 2 s.
  retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 2_000),
} as const;

export function connectRedis(url: string, logger: Logger): RedisClients {
  const command = new Redis(url, { ...OPTIONS, connectionName: "linkfort" });
  let wasUp = false;
  command.on("ready", () => { if (!wasUp) logger.info("redis up", { url: redact(url) }); wasUp = true; });
  command.on("end", () => { wasUp = false; });
  command.on("error", (error) => { if (wasUp) logger.warn("redis unavailable", { error }); wasUp = false; });
  return {
    command,
    get up() { return command.status === "ready"; },
    async close() {
      command.disconnect();
    },
  };
}

const redact = (url: string) => url.replace(/\/\/[^@]*@/, "//***@");

/** A Lua script run by EVALSHA, and by EVAL once when the server has not seen it (first use, restart, flush). */
export function luaScript(source: string) {
  const sha = createHash("sha1").update(source).digest("hex");
  return async (redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return redis.eval(source, keys.length, ...keys, ...args);
    }
  };
}
