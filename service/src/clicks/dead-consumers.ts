/**
 * Removes consumer names of instances that are gone from the click stream's group. Every start
 * adds a name (host:port:pid), and Redis keeps each until told otherwise. A name goes only when
 * it has been idle longer than the bound AND has no pending entries: XGROUP DELCONSUMER drops a
 * consumer's pending entries with it, so one still holding clicks (not yet claimed by XAUTOCLAIM)
 * must stay. The check and the delete run in one Lua script, so a consumer cannot take an entry
 * in between; a live instance whose name was removed gets it back at its next XREADGROUP.
 */
import type Redis from "ioredis";

// XINFO CONSUMERS replies one flat [field, value, …] list per consumer (RESP2).
const SCRIPT = `
local removed = {}
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if tonumber(f['pending']) == 0 and tonumber(f['idle']) > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    removed[#removed + 1] = f['name']
  end
end
return removed`;

/** Names removed from `group`; none when the stream or group does not exist. */
export async function removeDeadConsumers(redis: Redis, key: string, group: string, idleMs: number): Promise<string[]> {
  try {
    return (await redis.eval(SCRIPT, 1, key, group, String(idleMs))) as string[];
  } catch (error) {
    // No stream or no group yet: nothing to clean.
    if (/NOGROUP|no such key/i.test(String((error as Error).message))) return [];
    throw error;
  }
}
