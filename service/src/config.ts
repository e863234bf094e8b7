/**
 * Every setting of the linkfort service: environment variable, flag, type, default, doc.
 * Read once in main.ts; no other module reads process.env.
 */
import { ConfigProblem, bool, int, oneOf, optional, postgresUrl, readConfig, str, type ConfigOf, type Setting } from "./lib/env.ts";
import type { LogLevel } from "./lib/logger.ts";
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
  accessLog: setting({ env: "ACCESS_LOG", parse: bool, default: true, doc: "one log line per request" }),
  dbPoolMax: setting({ env: "DB_POOL_MAX", parse: int(1, 200), default: 10, doc: "PostgreSQL connections per instance" }),
  dbStatementTimeoutMs: setting({
    env: "DB_STATEMENT_TIMEOUT_MS", parse: int(100, 600_000), default: 5_000,
    doc: "a query running longer is cancelled (ms); bulk imports are exempt",
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
  // settings: clicks stream
  trustedProxies: setting({
    env: "TRUSTED_PROXIES", parse: proxyList, default: "127.0.0.1,::1",
    doc: "comma-separated IPs/CIDRs whose X-Forwarded-For is believed (Caddy); others' is ignored",
  }),
  // settings: rate limits
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

/** Defaults plus overrides, for tests and tools that build an app without an environment. */
export function testConfig(overrides: Partial<ServiceConfig> = {}): ServiceConfig {
  return { ...readConfig(serviceSettings, {}), accessLog: false, drainMs: 0, clickFlushMs: 50, ...overrides };
}
