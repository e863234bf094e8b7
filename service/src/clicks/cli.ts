/**
 * `linkfort clicks drain-stream`: see drain-stream.ts. Without REDIS_URL there is no stream to
 * drain, which is success.
 */
import Redis from "ioredis";
import type { ServiceConfig } from "../config.ts";
import type { Sql } from "../db/client.ts";
import { drainStream } from "./drain-stream.ts";
import { createClicksRepo } from "./repo.ts";

export const CLICKS_USAGE = "usage: linkfort clicks drain-stream";

export async function runClicksCommand(args: string[], io: { config: ServiceConfig; sql: Sql; out(line: string): void }): Promise<number> {
  if (args[0] !== "drain-stream" || args.length !== 1) { io.out(CLICKS_USAGE); return 2; }
  if (!io.config.redisUrl) { io.out("REDIS_URL is unset: no click stream to drain"); return 0; }
  const redis = new Redis(io.config.redisUrl, { maxRetriesPerRequest: 2, connectTimeout: 5_000, commandTimeout: 30_000, lazyConnect: true });
  try {
    await redis.connect();
    const r = await drainStream({ redis, repo: createClicksRepo(io.sql), key: io.config.clickStreamKey });
    io.out(`click stream ${io.config.clickStreamKey}: ${r.read} entries read, ${r.written} clicks written (the rest were written before, or their link is gone), ${r.unreadable} unreadable; stream deleted`);
    return 0;
  } finally {
    redis.disconnect();
  }
}
