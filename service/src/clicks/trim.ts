/**
 * Deletes the click stream entries that every consumer group on it is done with, and no other:
 * entries a group has not read yet, or has read but not acknowledged (its clicks may not be in
 * PostgreSQL), stay. The bound comes from Redis's own bookkeeping: per group, the older of its
 * oldest pending entry (XPENDING) and the entry after its last-delivered-id (XINFO GROUPS); the
 * oldest of those over all groups; then `XTRIM MINID` (exact) deletes what lies below it. With no
 * group on the key nothing is trimmed: no one has read anything. The consumer loop asks for a
 * trim after each round; at most one a second is done. It never throws into the loop.
 *
 * Why one Lua script: the reads and the XTRIM must see the same state. Done as separate commands
 * in the order XPENDING then XINFO GROUPS, a consumer could read entries in between (nothing was
 * pending, so the bound is the new last-delivered-id) and the XTRIM would delete them while they
 * are pending, before their insert. The other order is safe only while no group is created or
 * moved meanwhile. In one script nothing runs between the reads and the XTRIM, so the bound holds
 * when the entries go; after it, ids are monotonic: every later XADD gets an id above every
 * group's last-delivered-id, so above the bound, and a consumer can make pending only entries
 * after its group's last-delivered-id (XREADGROUP >) or ones already pending (XCLAIM). The script
 * blocks Redis for O(groups) reads plus the entries deleted, about a second's worth of acks.
 *
 * Past the bound an entry was delivered to every group and left every pending list: acked after
 * its commit, or dropped by XAUTOCLAIM because it was already gone. XGROUP DELCONSUMER also empties
 * a pending list, which is why dead-consumers.ts only removes consumers with none pending.
 */
import type Redis from "ioredis";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import { luaScript } from "../redis.ts";
import { betweenRounds } from "./between-rounds.ts";

// KEYS[1]: the stream. Returns how many entries XTRIM deleted. Ids are compared as two numbers
// (ms, seq): exact in Lua's doubles for ids Redis makes with '*' (ms below 2^53, seq small).
const TRIM = luaScript(`
if redis.call('TYPE', KEYS[1]).ok ~= 'stream' then return 0 end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)%-(%d+)$')
  return { tonumber(ms), tonumber(seq) }
end
local function older(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end
local bound
for _, info in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local group = {}
  for i = 1, #info, 2 do group[info[i]] = info[i + 1] end
  local delivered = parse(group['last-delivered-id'])
  local keep = { delivered[1], delivered[2] + 1 }
  local pending = redis.call('XPENDING', KEYS[1], group['name'])
  if tonumber(pending[1]) > 0 then
    local oldest = parse(pending[2])
    if older(oldest, keep) then keep = oldest end
  end
  if bound == nil or older(keep, bound) then bound = keep end
end
if bound == nil then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', string.format('%.0f-%.0f', bound[1], bound[2]))
`);

/** Deletes the entries of `key` every group has acknowledged; returns how many. Throws what Redis throws. */
export async function trimAcknowledged(redis: Redis, key: string): Promise<number> {
  return Number(await TRIM(redis, [key], []));
}

export interface StreamTrimmerOptions {
  /** The command connection (never blocked), not the consumer's blocking one. */
  redis: Redis;
  metrics: Metrics;
  logger: Logger;
  key: string;
  /** Least time between two trims (ms, default 1 s). */
  everyMs?: number;
  /** Clock (ms since the epoch); tests pin it. */
  now?: () => number;
}

export function createStreamTrimmer(opts: StreamTrimmerOptions) {
  const { redis, metrics, logger, key } = opts;
  let failing = false;

  /** One trim: the entries deleted, or null when Redis could not do it (logged once per outage). */
  async function trim(): Promise<number | null> {
    try {
      const trimmed = await trimAcknowledged(redis, key);
      metrics.clickStreamTrimmed.inc(trimmed);
      if (failing) logger.info("click stream trim recovered", { trimmed });
      failing = false;
      return trimmed;
    } catch (error) {
      if (!failing) logger.warn("click stream trim failed; acknowledged entries stay until it works", { error });
      failing = true;
      return null;
    }
  }

  return betweenRounds(trim, opts.everyMs ?? 1_000, opts.now ?? Date.now);
}

export type StreamTrimmer = ReturnType<typeof createStreamTrimmer>;
