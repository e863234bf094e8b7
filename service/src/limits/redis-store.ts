/**
 * The shared store: one Lua script per decision, so the ban check and the charge of every
 * bucket are atomic across instances and cost one round trip. Arrival times are computed with
 * the caller's clock (instances agree to NTP precision; tests move it); Redis TTLs only collect
 * garbage. Any Redis failure is `undefined`, and the caller falls back to memory.
 */
import { createHash } from "node:crypto";
import type Redis from "ioredis";
import { allowedResult, limitedResult, type Bucket, type HitResult, type LimitStore, type Strike } from "./store.ts";

const PREFIX = "limits:";
export const banKey = (subject: string) => `${PREFIX}ban:${subject}`;
const tatKey = (bucketKey: string) => `${PREFIX}tat:${bucketKey}`;
const strikeKey = (subject: string) => `${PREFIX}strike:${subject}`;

// KEYS: ban keys (ARGV[1] of them), then bucket keys. ARGV: nbans, now, then interval, limit per bucket.
// A ban value is its end in ms, 0 for permanent. Numbers go back as strings: Redis truncates Lua numbers.
const HIT = `
local nbans = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
for i = 1, nbans do
  local v = redis.call('GET', KEYS[i])
  if v then
    local u = tonumber(v)
    if u == 0 or u > now then return {'banned', tostring(i), v} end
  end
end
local tats = {}
for j = 1, #KEYS - nbans do
  local interval = tonumber(ARGV[1 + 2 * j])
  local limit = tonumber(ARGV[2 + 2 * j])
  local tat = tonumber(redis.call('GET', KEYS[nbans + j]) or '0')
  if tat < now then tat = now end
  local nxt = tat + interval
  if nxt - limit * interval > now then return {'limited', tostring(j), tostring(tat)} end
  tats[j] = nxt
end
for j = 1, #tats do
  redis.call('SET', KEYS[nbans + j], tostring(tats[j]), 'PX', math.max(1, math.ceil(tats[j] - now)))
end
local out = {'allowed', '0'}
for j = 1, #tats do out[#out + 1] = tostring(tats[j]) end
return out
`;

// KEYS[1]: strike key "last|count|since". ARGV: now, spacing, window.
const STRIKE = `
local now = tonumber(ARGV[1])
local spacing = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local last, count, since = nil, 0, now
local v = redis.call('GET', KEYS[1])
if v then
  local a, b, c = string.match(v, '^([^|]+)|([^|]+)|([^|]+)$')
  last, count, since = tonumber(a), tonumber(b), tonumber(c)
end
if now - since >= window then count = 0; since = now end
if last and now - last < spacing then return {0, count} end
count = count + 1
redis.call('SET', KEYS[1], tostring(now) .. '|' .. tostring(count) .. '|' .. tostring(since), 'PX', window)
return {1, count}
`;

const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");

/** EVALSHA, and EVAL once when the server has not seen the script (first use, restart, flush). */
async function run(redis: Redis, script: string, sha: string, keys: string[], args: (string | number)[]): Promise<unknown> {
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
    return redis.eval(script, keys.length, ...keys, ...args);
  }
}

export function createRedisStore(redis: { command: Redis; readonly up: boolean }): LimitStore {
  const hitSha = sha1(HIT);
  const strikeSha = sha1(STRIKE);
  // A down client rejects at once anyway; checking first skips building the call.
  const attempt = async <T>(work: () => Promise<T>): Promise<T | undefined> => {
    if (!redis.up) return undefined;
    try { return await work(); } catch { return undefined; }
  };

  return {
    name: "redis",
    hit: (subjects, buckets, now) => attempt(async (): Promise<HitResult> => {
      const keys = [...subjects.map(banKey), ...buckets.map((b) => tatKey(b.key))];
      const args = [subjects.length, now, ...buckets.flatMap((b) => [b.periodMs / b.limit, b.limit])];
      const [kind, index, ...values] = (await run(redis.command, HIT, hitSha, keys, args)) as string[];
      const at = Number(index) - 1;
      if (kind === "banned") {
        const until = Number(values[0]);
        return { kind: "banned", subject: subjects[at]!, until: until === 0 ? null : until };
      }
      if (kind === "limited") return limitedResult(buckets[at]!, Number(values[0]), now);
      return allowedResult(buckets, values.map(Number), now);
    }),
    strike: (subject, now, spacingMs, windowMs) => attempt(async (): Promise<Strike> => {
      const [counted, count] = (await run(redis.command, STRIKE, strikeSha, [strikeKey(subject)], [now, spacingMs, windowMs])) as number[];
      return { counted: counted === 1, count: count ?? 0 };
    }),
    ban: (subject, until, now) => attempt(async () => {
      const multi = redis.command.multi().del(strikeKey(subject));
      if (until === null) multi.set(banKey(subject), "0");
      else multi.set(banKey(subject), String(until), "PX", Math.max(1, Math.ceil(until - now)));
      await multi.exec();
      return true;
    }),
    unban: (subject, bucketKeys) => attempt(async () => {
      await redis.command.del(banKey(subject), strikeKey(subject), ...bucketKeys.map(tatKey));
      return true;
    }),
  };
}
