/**
 * Every setting of the linkfort service: environment variable, flag, type, default, doc.
 * Read once in main.ts; no other module reads process.env.
 */
import { ConfigProblem, bool, int, oneOf, optional, postgresUrl, readConfig, str, type ConfigOf, type Setting } from "./lib/env.ts";
import type { LogFormatSetting, LogLevel } from "./lib/logger.ts";
import { parseTrustedProxies } from "./http/client-ip.ts";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const setting = <T>(s: Setting<T>) => s;

const proxyList = (raw: string) => {
  try {
    parseTrustedProxies(raw);
    return raw;
  } catch (err) {
    return new ConfigProblem((err as Error).message);
  }
};

/** An absolute http(s) origin, as an operator writes it (a trailing slash is fine), normalised to `scheme://host[:port]`. */
const publicOrigin = (raw: string) => {
  try {
    const url = new URL(raw);
    const plain = url.username === "" && url.password === "" && url.pathname === "/" && url.search === "" && url.hash === "";
    if ((url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "" && plain) return url.origin;
  } catch { /* fall through */ }
  return new ConfigProblem("must be an http:// or https:// origin with no path, query or credentials, e.g. https://s.example.com");
};

const redisUrlParser = (raw: string) => {
  try {
    const url = new URL(raw);
    if (url.protocol === "redis:" || url.protocol === "rediss:") return raw;
  } catch { /* fall through */ }
  return new ConfigProblem("must be a redis:// or rediss:// URL");
};

export const serviceSettings = {
  port: setting({ env: "PORT", parse: int(1, 65535), default: 8080, doc: "TCP port to listen on" }),
  host: setting({ env: "HOST", parse: str, default: "127.0.0.1", doc: "address to bind; keep loopback behind Caddy" }),
  databaseUrl: setting({
    env: "DATABASE_URL", parse: optional(postgresUrl), default: undefined as string | undefined, secret: true,
    doc: "PostgreSQL URL; unset in a source checkout starts embedded PostgreSQL in DATA_DIR",
  }),
  dataDir: setting({ env: "DATA_DIR", parse: str, default: "./data", doc: "where embedded PostgreSQL keeps its files, and the click spool (DATA_DIR/spool) unless CLICK_SPOOL_DIR says otherwise" }),
  embeddedPgPort: setting({ env: "EMBEDDED_PG_PORT", parse: int(1, 65535), default: 54329, doc: "port of the embedded PostgreSQL" }),
  auth: setting({
    env: "LINKFORT_AUTH", flag: "auth", parse: oneOf("keys", "open"), default: "keys" as "keys" | "open",
    doc: "keys: write endpoints need an API key; open: no key checks (compatibility harnesses only)",
  }),
  logLevel: setting({
    env: "LOG_LEVEL", parse: oneOf<LogLevel>("debug", "info", "warn", "error"), default: "info" as LogLevel,
    doc: "least severe level written to stdout",
  }),
  logFormat: setting({
    env: "LOG_FORMAT", parse: oneOf<LogFormatSetting>("auto", "json", "text"), default: "auto" as LogFormatSetting,
    doc: "auto: one readable line per event when stdout is a terminal, else one JSON object per line; json; text",
  }),
  noColor: setting({ env: "NO_COLOR", parse: () => true, default: false, doc: "any value: no colours in the text log format (no-color.org)" }),
  accessLog: setting({ env: "ACCESS_LOG", parse: bool, default: true, doc: "one log line per request (health probes /ready and /live only at LOG_LEVEL=debug)" }),
  dbPoolMax: setting({ env: "DB_POOL_MAX", parse: int(1, 200), default: 10, doc: "PostgreSQL connections per instance" }),
  dbStatementTimeoutMs: setting({
    env: "DB_STATEMENT_TIMEOUT_MS", parse: int(100, 600_000), default: 5_000,
    doc: "a query running longer is cancelled (ms); imports too: they write in batches small enough for it",
  }),
  dbLockTimeoutMs: setting({
    env: "DB_LOCK_TIMEOUT_MS", parse: int(0, 600_000), default: 1_000,
    doc: "a statement waiting longer for a lock another session holds is cancelled and answered 503 (ms; 0: wait up to the statement timeout); a locked table then fails requests fast instead of queueing them",
  }),
  dbResponseTimeoutMs: setting({
    env: "DB_RESPONSE_TIMEOUT_MS", parse: int(0, 3_600_000), default: 7_000,
    doc: "a PostgreSQL connection with a query outstanding that receives nothing for this long is closed and its requests answered 503: a frozen server or a cut network (ms; at least DB_STATEMENT_TIMEOUT_MS + 1 s; 0: wait without limit)",
  }),
  dbQueueTimeoutMs: setting({
    env: "DB_QUEUE_TIMEOUT_MS", parse: int(0, 3_600_000), default: 3_000,
    doc: "a request waiting this long for a free PostgreSQL connection (all DB_POOL_MAX busy or opening, e.g. a cut network) is answered 503 and never runs (ms; 0: wait without limit); with the 5 s connect timeout such a request is answered within about 8 s, before a typical client's or proxy's 10 s",
  }),
  clicks: setting({
    env: "CLICKS", parse: bool, default: true,
    doc: "record a clicked event per redirect; off: redirects record none (to measure what clicks cost; events and stats miss them)",
  }),
  // settings: click spool
  clickSpoolDir: setting({
    env: "CLICK_SPOOL_DIR", parse: optional(str), default: undefined as string | undefined,
    doc: "where clicks wait on local disk before they reach PostgreSQL, one directory per instance (by port); default DATA_DIR/spool",
  }),
  clickSync: setting({
    env: "CLICK_SYNC", parse: oneOf("off", "batch"), default: "off" as "off" | "batch",
    doc: "off: a 302 waits for the spool write (survives kill -9, not power loss); batch: also for an fdatasync per batch (survives power loss; see docs/PERFORMANCE.md for the cost)",
  }),
  clickSpoolMaxBytes: setting({
    env: "CLICK_SPOOL_MAX_BYTES", parse: int(1_048_576, 1_099_511_627_776), default: 1_073_741_824,
    doc: "most bytes of this instance's spool (100–250 bytes a click, by its headers); clicks beyond it are dropped and counted, the redirects still answer",
  }),
  clickSegmentBytes: setting({
    env: "CLICK_SEGMENT_BYTES", parse: int(4_096, 1_073_741_824), default: 16_777_216,
    doc: "a spool segment file past this size is closed and a new one started (bytes); shipped segments are deleted whole",
  }),
  clickBatchMax: setting({ env: "CLICK_BATCH_MAX", parse: int(1, 50_000), default: 1_000, doc: "most clicks shipped from the spool in one transaction" }),
  clickShipMs: setting({
    env: "CLICK_SHIP_MS", parse: int(10, 60_000), default: 250,
    doc: "pause after the spool was shipped up to its end, before looking again (ms): clicks reach PostgreSQL within about this",
  }),
  clickSpoolAdoptAfterMs: setting({
    env: "CLICK_SPOOL_ADOPT_AFTER_MS", parse: int(100, 86_400_000), default: 30_000,
    doc: "a spool beside this instance's whose instance has not run for this long (ms) is shipped by this one",
  }),
  // settings: event partitions
  eventPartitionsAhead: setting({
    env: "EVENT_PARTITIONS_AHEAD", parse: int(1, 24), default: 3,
    doc: "monthly partitions of events kept ready after the current month (created hourly by one instance under an advisory lock)",
  }),
  eventRetentionMonths: setting({
    env: "EVENT_RETENTION_MONTHS", parse: int(0, 1_200), default: 0,
    doc: "0: keep every event; N: drop whole monthly partitions of events older than the current month and the N before it (click rollups and stats stay)",
  }),
  eventConversionBatch: setting({
    env: "EVENT_CONVERSION_BATCH", parse: int(100, 100_000), default: 5_000,
    doc: "ids copied per transaction while a pre-0003 events table is converted online to the partitioned one",
  }),
  drainMs: setting({
    env: "SHUTDOWN_DRAIN_MS", parse: int(0, 120_000), default: 3_000,
    doc: "after SIGTERM, /ready answers 503 this long before the listener closes, so Caddy stops sending (ms)",
  }),
  shutdownTimeoutMs: setting({
    env: "SHUTDOWN_TIMEOUT_MS", parse: int(100, 300_000), default: 15_000,
    doc: "longest wait for in-flight requests after the drain (ms); the last click ship then takes at most 10 s more",
  }),
  redisUrl: setting({
    env: "REDIS_URL", parse: optional(redisUrlParser), default: undefined as string | undefined, secret: true,
    doc: "Redis for the shared cache and rate limits; unset: per-instance fallbacks only",
  }),
  // settings: cache
  cacheMaxEntries: setting({
    env: "CACHE_MAX_ENTRIES", parse: int(1, 10_000_000), default: 100_000,
    doc: "short codes held in each instance's LRU; the least recently used go first past it",
  }),
  cacheTtlMs: setting({
    env: "CACHE_TTL_MS", parse: int(1, 86_400_000), default: 30_000,
    doc: "how long a known code (active or inactive) stays cached in the LRU and Redis (ms); invalidation rides on PostgreSQL, so this only bounds memory and the life of a Redis key",
  }),
  cacheNegativeTtlMs: setting({
    env: "CACHE_NEGATIVE_TTL_MS", parse: int(1, 86_400_000), default: 5_000,
    doc: "how long an unknown code stays cached (ms): PostgreSQL sees each unknown code at most once per this",
  }),
  clickStreamKey: setting({
    env: "CLICK_STREAM_KEY", parse: str, default: "lf:clicks",
    doc: "the Redis stream where releases before the click spool kept clicks; `linkfort clicks drain-stream` writes what is left and deletes it",
  }),
  publicUrl: setting({
    env: "PUBLIC_URL", parse: publicOrigin, default: "http://127.0.0.1:8080",
    doc: "the origin people reach the redirects at (https://s.example.com): QR codes carry it. Never taken from a request's Host; the default is the quick start's Caddy",
  }),
  trustedProxies: setting({
    env: "TRUSTED_PROXIES", parse: proxyList, default: "127.0.0.1,::1",
    doc: "comma-separated IPs/CIDRs whose X-Forwarded-For is believed (Caddy); others' is ignored",
  }),
  // settings: rate limits
  rateLimits: setting({
    env: "RATE_LIMITS", parse: bool, default: true,
    doc: "per-IP and per-key rate limits with ban escalation; off disables both (benchmarks, trusted networks)",
  }),
  rateLimitRedirects: setting({ env: "RATE_LIMIT_REDIRECTS", parse: int(1, 1_000_000), default: 600, doc: "redirects per client IP per minute" }),
  rateLimitReads: setting({ env: "RATE_LIMIT_READS", parse: int(1, 1_000_000), default: 1_200, doc: "API reads (GET) per minute, per client IP and per API key" }),
  rateLimitWrites: setting({ env: "RATE_LIMIT_WRITES", parse: int(1, 1_000_000), default: 600, doc: "API writes (POST/PUT/PATCH/DELETE) per minute, per client IP and per API key" }),
  rateLimitExempt: setting({
    env: "RATE_LIMIT_EXEMPT", parse: proxyList, default: "127.0.0.1,::1",
    doc: "comma-separated client IPs/CIDRs never limited or banned; loopback by default: local probes and benchmarks, never a client behind Caddy (its X-Forwarded-For address counts)",
  }),
  rateLimitIpv6Prefix: setting({
    env: "RATE_LIMIT_IPV6_PREFIX", parse: int(32, 128), default: 64,
    doc: "IPv6 clients are limited and banned by this prefix length (one /64 is usually one subscriber); IPv4 stays per address; 128: per address",
  }),
  rateLimitMemorySubjects: setting({
    env: "RATE_LIMIT_MEMORY_SUBJECTS", parse: int(100, 10_000_000), default: 100_000,
    doc: "subjects the per-instance fallback limiter remembers while Redis is down; the least recent are forgotten",
  }),
  banAfterViolations: setting({
    env: "BAN_AFTER_VIOLATIONS", parse: int(1, 1_000), default: 5,
    doc: "violations (at most one counted per minute of hitting the limit) within BAN_VIOLATION_WINDOW_S that earn a ban",
  }),
  banViolationWindowS: setting({ env: "BAN_VIOLATION_WINDOW_S", parse: int(60, 30 * 86_400), default: 3_600, doc: "window in which violations are counted (s)" }),
  banDurationS: setting({ env: "BAN_DURATION_S", parse: int(1, 30 * 86_400), default: 3_600, doc: "length of a temporary ban (s)" }),
  banPermanentAfter: setting({
    env: "BAN_PERMANENT_AFTER", parse: int(1, 100), default: 3,
    doc: "temporary bans (not lifted by an admin) after which the next ban is permanent",
  }),
  banSyncMs: setting({
    env: "BAN_SYNC_MS", parse: int(100, 3_600_000), default: 30_000,
    doc: "how often active bans are copied from PostgreSQL into Redis and the instance (ms), so a flush loses none",
  }),
  exitWithStdin: setting({
    env: "EXIT_WITH_STDIN", flag: "exit-with-stdin", parse: bool, default: false,
    doc: "shut down gracefully when stdin closes: a supervisor that spawned us with a pipe has died",
  }),
  seed: setting({ env: "LINKFORT_SEED", flag: "seed", parse: optional(str), default: undefined as string | undefined,
    doc: "folder with users.csv, urls.csv, events.csv to import into an empty database at start" }),
} as const;

export type ServiceConfig = ConfigOf<typeof serviceSettings>;

export function loadServiceConfig(env: Record<string, string | undefined>, flags?: Map<string, string>): ServiceConfig {
  return readConfig(serviceSettings, env, flags);
}

/**
 * Defaults plus overrides, for tests and tools that build an app without an environment. Rate
 * limits are off unless a test turns them on: suites fire hundreds of requests from one client.
 */
/** Temporary spool directories made by testConfig are named this, then the process id. */
export const TEST_SPOOL_PREFIX = "linkfort-spool-";

export function testConfig(overrides: Partial<ServiceConfig> = {}): ServiceConfig {
  // Each app its own spool: tests build several apps on one default port in one process. The
  // pid in the name lets the test run remove them all at its end (service/test/preload.ts).
  const clickSpoolDir = mkdtempSync(join(tmpdir(), `${TEST_SPOOL_PREFIX}${process.pid}-`));
  return { ...readConfig(serviceSettings, {}), accessLog: false, drainMs: 0, clickShipMs: 50, clickSpoolDir, rateLimits: false, ...overrides };
}
