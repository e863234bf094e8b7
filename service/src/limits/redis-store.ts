/**
 * The shared store: Lua scripts, so the ban check and the charge of every bucket are atomic
 * across instances; the decisions of one event-loop turn share one script call and so one round
 * trip. Arrival times are computed with the caller's clock (instances agree to NTP precision;
 * tests move it); Redis TTLs only collect garbage. Any Redis failure is `undefined`, and the
 * caller falls back to memory.
 */
import type { ChainableCommander, default as Redis } from "ioredis";
import { luaScript } from "../redis.ts";
import {
  allowedResult, limitedResult, LIFT_TOMBSTONE_MS, type Bucket, type HitResult, type KnownStrikes, type LimitStore, type StrikeRule,
} from "./store.ts";

const PREFIX = "limits:";
export const banKey = (subject: string) => `${PREFIX}ban:${subject}`;
const tatKey = (bucketKey: string) => `${PREFIX}tat:${bucketKey}`;
const strikeKey = (subject: string) => `${PREFIX}strike:${subject}`;
/** A lift's tombstone: the highest ban row lifted for the subject in the last LIFT_TOMBSTONE_MS. */
export const liftedKey = (subject: string) => `${PREFIX}lifted:${subject}`;

// The sync's copy: KEYS ban, tombstone; ARGV ban id, value, TTL in ms ("" for none). Not made
// when a lift of this row or a later one is remembered: the copy may come from a read made
// before that lift. One script, so a lift cannot fall between check and set.
const COPY = `
local lifted = redis.call('GET', KEYS[2])
if lifted and tonumber(lifted) >= tonumber(ARGV[1]) then return 0 end
if ARGV[3] == '' then redis.call('SET', KEYS[1], ARGV[2]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
`;
// Remembers a lift: KEYS tombstone; ARGV lifted ban id, tombstone TTL. Keeps the highest id.
// Returns 1 when this id was not remembered yet.
const REMEMBER_LIFT = `
local lifted = tonumber(redis.call('GET', KEYS[1]) or '0')
local id = tonumber(ARGV[1])
if lifted >= id then redis.call('PEXPIRE', KEYS[1], ARGV[2]); return 0 end
redis.call('SET', KEYS[1], tostring(id), 'PX', ARGV[2])
return 1
`;
// The sync's repair of a lift Redis missed: KEYS tombstone, ban; ARGV lifted ban id, TTL.
const RELIFT = `
local lifted = tonumber(redis.call('GET', KEYS[1]) or '0')
if lifted >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
return 1
`;
const copyScript = luaScript(COPY);
const rememberLiftScript = luaScript(REMEMBER_LIFT);
const reliftScript = luaScript(RELIFT);

// One decision per check, for every check made in one turn of the event loop (one round trip,
// one script call). Per check, ARGV holds nbans, nbuckets, now, strike spacing, strike window,
// then interval, limit and this instance's known strikes of its subject ("" or "last|count|since")
// per bucket; KEYS its ban keys, its bucket keys, then the strike key of each bucket's subject.
// ARGV[1] is the number of checks. A check is atomic as before, and a batch is too. A refusal
// counts its strike in the same script, so a refusal that came back has been counted. A ban value
// is its end in ms, 0 for permanent; a strike value "last|count|since". A ban or a lift writes
// "0|0|<its time>": a new count that strikes an instance knew from before it cannot raise.
// Results go back flat, each prefixed by its length; numbers as strings (Redis truncates Lua numbers).
const HIT = `
local function parse(v)
  local a, b, c = string.match(v, '^([^|]+)|([^|]+)|([^|]+)$')
  return tonumber(a), tonumber(b), tonumber(c)
end
local function strike(key, now, spacing, window, known)
  local last, count, since = nil, 0, now
  local v = redis.call('GET', key)
  if v then last, count, since = parse(v) end
  local live = v and now - since < window
  if not live then count = 0; since = now end
  -- Strikes this instance counted while Redis did not answer, or Redis lost in a restart: count
  -- on from the higher count, unless Redis's own started later (a ban or a lift since then).
  if known ~= '' then
    local klast, kcount, ksince = parse(known)
    if klast and (not live or ksince >= since) then
      if now - ksince < window and kcount > count then count = kcount; since = ksince end
      if not last or klast > last then last = klast end
    end
  end
  if last and now - last < spacing then return '0', tostring(count), tostring(last), tostring(since) end
  count = count + 1
  redis.call('SET', key, tostring(now) .. '|' .. tostring(count) .. '|' .. tostring(since), 'PX', window)
  return '1', tostring(count), tostring(now), tostring(since)
end
local function check(kb, nbans, nbuckets, now, spacing, window, ab)
  for i = 1, nbans do
    local v = redis.call('GET', KEYS[kb + i])
    if v then
      local u = tonumber(v)
      if u == 0 or u > now then return {'banned', tostring(i), v} end
    end
  end
  local tats = {}
  for j = 1, nbuckets do
    local interval = tonumber(ARGV[ab + 3 * (j - 1)])
    local limit = tonumber(ARGV[ab + 3 * (j - 1) + 1])
    local tat = tonumber(redis.call('GET', KEYS[kb + nbans + j]) or '0')
    if tat < now then tat = now end
    local nxt = tat + interval
    if nxt - limit * interval > now then
      local counted, count, last, since = strike(KEYS[kb + nbans + nbuckets + j], now, spacing, window, ARGV[ab + 3 * (j - 1) + 2])
      return {'limited', tostring(j), tostring(tat), counted, count, last, since}
    end
    tats[j] = nxt
  end
  for j = 1, #tats do
    redis.call('SET', KEYS[kb + nbans + j], tostring(tats[j]), 'PX', math.max(1, math.ceil(tats[j] - now)))
  end
  local out = {'allowed', '0'}
  for j = 1, #tats do out[#out + 1] = tostring(tats[j]) end
  return out
end
local out = {}
local kb, a = 0, 2
for c = 1, tonumber(ARGV[1]) do
  local nbans, nbuckets, now = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local r = check(kb, nbans, nbuckets, now, tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), a + 5)
  out[#out + 1] = tostring(#r)
  for i = 1, #r do out[#out + 1] = r[i] end
  kb = kb + nbans + 2 * nbuckets
  a = a + 5 + 3 * nbuckets
end
return out
`;

const hitScript = luaScript(HIT);

interface Check {
  subjects: readonly string[];
  buckets: readonly Bucket[];
  now: number;
  strikes: StrikeRule;
  known: KnownStrikes | undefined;
  done(result: HitResult | undefined): void;
}

/** The result of one check from its reply fields ([kind, index, ...values]). */
function decode(check: Check, [kind, index, ...values]: string[]): HitResult {
  const at = Number(index) - 1;
  if (kind === "banned") {
    const until = Number(values[0]);
    return { kind: "banned", subject: check.subjects[at]!, until: until === 0 ? null : until };
  }
  if (kind === "limited") {
    const [tat, counted, count, last, since] = values.map(Number);
    return limitedResult(check.buckets[at]!, tat!, check.now, { counted: counted === 1, count: count!, last: last!, since: since! });
  }
  return allowedResult(check.buckets, values.map(Number), check.now);
}

// Redis runs nothing else while a script runs; a busier turn is split into several scripts.
const CHECKS_MAX = 200;

/** "last|count|since" for the script; "" when this instance knows no strikes of the subject. */
function knownArg(known: KnownStrikes | undefined, subject: string): string {
  const state = known?.(subject);
  return state ? `${Number.isFinite(state.last) ? state.last : 0}|${state.count}|${state.since}` : "";
}

/** A new count from `now`: strikes an instance knew from before it no longer raise it (see HIT). */
function restartStrikes(multi: ChainableCommander, subject: string, now: number, rule: StrikeRule): ChainableCommander {
  return multi.set(strikeKey(subject), `0|0|${now}`, "PX", rule.windowMs);
}

function setBan(multi: ChainableCommander, subject: string, until: number | null, now: number): ChainableCommander {
  return until === null ? multi.set(banKey(subject), "0") : multi.set(banKey(subject), String(until), "PX", Math.max(1, Math.ceil(until - now)));
}

export function createRedisStore(redis: { command: Redis; readonly up: boolean }): LimitStore {
  // A down client rejects at once anyway; checking first skips building the call.
  const attempt = async <T>(work: () => Promise<T>): Promise<T | undefined> => {
    if (!redis.up) return undefined;
    try { return await work(); } catch { return undefined; }
  };

  let waiting: Check[] = [];

  /** One script for a batch of checks; any failure is `undefined` for each (memory decides). */
  async function decide(checks: Check[]): Promise<void> {
    const keys: string[] = [];
    const args: (string | number)[] = [checks.length];
    for (const c of checks) {
      for (const subject of c.subjects) keys.push(banKey(subject));
      for (const b of c.buckets) keys.push(tatKey(b.key));
      for (const b of c.buckets) keys.push(strikeKey(b.subject));
      args.push(c.subjects.length, c.buckets.length, c.now, c.strikes.spacingMs, c.strikes.windowMs);
      for (const b of c.buckets) args.push(b.periodMs / b.limit, b.limit, knownArg(c.known, b.subject));
    }
    let flat: string[];
    try {
      flat = (await hitScript(redis.command, keys, args)) as string[];
    } catch {
      for (const c of checks) c.done(undefined);
      return;
    }
    let i = 0;
    for (const c of checks) {
      const n = Number(flat[i]);
      c.done(decode(c, flat.slice(i + 1, i + 1 + n)));
      i += 1 + n;
    }
  }

  function flush(): void {
    const checks = waiting;
    waiting = [];
    for (let i = 0; i < checks.length; i += CHECKS_MAX) void decide(checks.slice(i, i + CHECKS_MAX));
  }

  return {
    name: "redis",
    // Checks made in the same turn share one round trip: each request still waits for its own decision.
    hit: (subjects, buckets, now, strikes, known) => {
      if (!redis.up) return Promise.resolve(undefined);
      return new Promise((done) => {
        if (waiting.length === 0) setImmediate(flush);
        waiting.push({ subjects, buckets, now, strikes, known, done });
      });
    },
    ban: (subject, until, now, strikes) => attempt(async () => {
      await setBan(restartStrikes(redis.command.multi(), subject, now, strikes), subject, until, now).exec();
      return true;
    }),
    copyBan: (subject, until, now, banId) => attempt(async () => {
      const ttl = until === null ? "" : Math.max(1, Math.ceil(until - now));
      return (await copyScript(redis.command, [banKey(subject), liftedKey(subject)], [banId, until === null ? "0" : String(until), ttl])) === 1;
    }),
    unban: (subject, bucketKeys, now, strikes, liftedBanId) => attempt(async () => {
      // The tombstone first: from then on no copy of the lifted row lands, and the DEL after it
      // removes one that landed before.
      if (liftedBanId !== undefined) await rememberLiftScript(redis.command, [liftedKey(subject)], [liftedBanId, LIFT_TOMBSTONE_MS]);
      await restartStrikes(redis.command.multi().del(banKey(subject), ...bucketKeys.map(tatKey)), subject, now, strikes).exec();
      return true;
    }),
    relift: (subject, liftedBanId) => attempt(async () =>
      (await reliftScript(redis.command, [liftedKey(subject), banKey(subject)], [liftedBanId, LIFT_TOMBSTONE_MS])) === 1),
  };
}
