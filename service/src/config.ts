/**
 * Every setting of the linkfort service: environment variable, flag, type, default, doc.
 * Read once in main.ts; no other module reads process.env.
 */
import { ConfigProblem, bool, int, oneOf, optional, postgresUrl, readConfig, str, type ConfigOf, type Setting } from "./lib/env.ts";
import type { LogFormatSetting, LogLevel } from "./lib/logger.ts";
import { parseTrustedProxies } from "./http/client-ip.ts";

const setting = <T>(s: Setting<T>) => s;

const proxyList = (raw: string) => {
  try {
    parseTrustedProxies(raw);
    return raw;
  } catch (err) {
    return new ConfigProblem((err as Error).message);
  }
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
    env: "DATABASE_URL", parse: optional(postgresUrl), default: undefined as string | undefined,
    doc: "PostgreSQL URL; unset in a source checkout starts embedded PostgreSQL in DATA_DIR",
  }),
  dataDir: setting({ env: "DATA_DIR", parse: str, default: "./data", doc: "where embedded PostgreSQL keeps its files" }),
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
    doc: "a query running longer is cancelled (ms); bulk imports are exempt",
  }),
  clicks: setting({
    env: "CLICKS", parse: bool, default: true,
    doc: "record a clicked event per redirect; off: redirects record none (to measure what clicks cost; events and stats miss them)",
  }),
  clickFlushMs: setting({ env: "CLICK_FLUSH_MS", parse: int(10, 60_000), default: 500, doc: "how often buffered clicks are written (ms)" }),
  clickBatchMax: setting({ env: "CLICK_BATCH_MAX", parse: int(1, 50_000), default: 1_000, doc: "most clicks in one INSERT" }),
  clickBufferMax: setting({
    env: "CLICK_BUFFER_MAX", parse: int(100, 10_000_000), default: 100_000,
    doc: "clicks held while PostgreSQL is down; the oldest are dropped (and counted) past it",
  }),
  drainMs: setting({
    env: "SHUTDOWN_DRAIN_MS", parse: int(0, 120_000), default: 3_000,
    doc: "after SIGTERM, /ready answers 503 this long before the listener closes, so Caddy stops sending (ms)",
  }),
  shutdownTimeoutMs: setting({
    env: "SHUTDOWN_TIMEOUT_MS", parse: int(100, 300_000), default: 15_000,
    doc: "longest wait for in-flight requests and the click flush after the drain (ms)",
  }),
  redisUrl: setting({
    env: "REDIS_URL", parse: optional(redisUrlParser), default: undefined as string | undefined,
    doc: "Redis for the shared cache, the click stream and rate limits; unset: per-instance fallbacks only",
  }),
  // settings: cache
  cacheMaxEntries: setting({
    env: "CACHE_MAX_ENTRIES", parse: int(1, 10_000_000), default: 100_000,
    doc: "short codes held in each instance's LRU; the least recently used go first past it",
  }),
  cacheTtlMs: setting({
    env: "CACHE_TTL_MS", parse: int(1, 86_400_000), default: 30_000,
    doc: "how long a known code (active or inactive) stays cached in the LRU and Redis (ms); bounds staleness when pub/sub is down",
  }),
  cacheNegativeTtlMs: setting({
    env: "CACHE_NEGATIVE_TTL_MS", parse: int(1, 86_400_000), default: 5_000,
    doc: "how long an unknown code stays cached (ms): PostgreSQL sees each unknown code at most once per this",
  }),
  // settings: clicks stream
  clickStreamKey: setting({ env: "CLICK_STREAM_KEY", parse: str, default: "lf:clicks", doc: "Redis stream that carries clicks from redirects to the consumers" }),
  clickStreamGroup: setting({ env: "CLICK_STREAM_GROUP", parse: str, default: "linkfort", doc: "consumer group all instances read the click stream as" }),
  clickStreamMaxLen: setting({
    env: "CLICK_STREAM_MAXLEN", parse: int(1_000, 100_000_000), default: 1_000_000,
    doc: "entries the click stream may hold; at it redirects put clicks in the in-process buffer (written straight to PostgreSQL) until the consumers catch up; only acknowledged entries are ever deleted",
  }),
  clickStreamBatch: setting({ env: "CLICK_STREAM_BATCH", parse: int(1, 10_000), default: 500, doc: "most stream entries read, inserted and acked per round" }),
  clickStreamBlockMs: setting({
    env: "CLICK_STREAM_BLOCK_MS", parse: int(10, 30_000), default: 1_000,
    doc: "XREADGROUP waits this long for new clicks (ms); also the longest a shutdown waits on a read",
  }),
  clickStreamClaimIdleMs: setting({
    env: "CLICK_STREAM_CLAIM_IDLE_MS", parse: int(100, 3_600_000), default: 30_000,
    doc: "entries read but not acked for this long (a dead consumer) are claimed by another (ms)",
  }),
  // settings: click maintenance
  clickMaintenanceMs: setting({
    env: "CLICK_MAINTENANCE_MS", parse: int(1_000, 86_400_000), default: 60_000,
    doc: "how often one instance at a time prunes old click receipts and removes dead consumer names (ms)",
  }),
  clickReceiptRetentionS: setting({
    env: "CLICK_RECEIPT_RETENTION_S", parse: int(60, 365 * 86_400), default: 86_400,
    doc: "click receipts are kept this long past the oldest entry still in the click stream (s); a click written again within it is still counted once",
  }),
  clickConsumerIdleMaxS: setting({
    env: "CLICK_CONSUMER_IDLE_MAX_S", parse: int(60, 30 * 86_400), default: 3_600,
    doc: "a click stream consumer idle this long with no pending entries is removed from the group (s)",
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
export function testConfig(overrides: Partial<ServiceConfig> = {}): ServiceConfig {
  return { ...readConfig(serviceSettings, {}), accessLog: false, drainMs: 0, clickFlushMs: 50, rateLimits: false, ...overrides };
}
