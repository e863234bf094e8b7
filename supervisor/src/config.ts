/**
 * Every setting of the linkfort supervisor: environment variable (or --flag), type, default, doc.
 * Read once in main.ts from the environment (systemd: EnvironmentFile=/etc/linkfort/supervisor.env);
 * no other module reads process.env.
 */
import { ConfigProblem, bool, int, oneOf, optional, postgresUrl, readConfig, str, type ConfigOf, type Parser, type Setting } from "../../service/src/lib/env.ts";
import type { LogFormatSetting, LogLevel } from "../../service/src/lib/logger.ts";
import { Cron } from "croner";

const setting = <T>(s: Setting<T>) => s;

/** "8081,8082,8083" or "8081-8083". */
export const portList: Parser<number[]> = (raw) => {
  const ports: number[] = [];
  for (const part of raw.split(",").map((p) => p.trim()).filter(Boolean)) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    const [from, to] = range ? [Number(range[1]), Number(range[2])] : [Number(part), Number(part)];
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 1 || to > 65535 || from > to) {
      return new ConfigProblem(`"${part}" is not a port or a port range like 8081-8083`);
    }
    for (let p = from; p <= to; p++) ports.push(p);
  }
  if (ports.length === 0) return new ConfigProblem("must name at least one port");
  if (new Set(ports).size !== ports.length) return new ConfigProblem("names a port twice");
  return ports;
};

/** A Discord webhook (or any https URL; http only to loopback, for the test stand-in). */
export const webhookUrl: Parser<string> = (raw) => {
  try {
    const url = new URL(raw);
    if (url.protocol === "https:" || (url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname))) return raw;
  } catch { /* fall through */ }
  return new ConfigProblem("must be an https:// URL (http:// only for a loopback test server)");
};

/** Like the service's REDIS_URL. */
const redisUrl: Parser<string> = (raw) => {
  try {
    if (["redis:", "rediss:"].includes(new URL(raw).protocol)) return raw;
  } catch { /* fall through */ }
  return new ConfigProblem("must be a redis:// or rediss:// URL");
};

/** A croner expression (5 fields, or 6 with seconds first), parsed at load so a typo fails the start by name. */
export const cronPattern: Parser<string> = (raw) => {
  try {
    new Cron(raw, { paused: true, timezone: "UTC" });
    return raw;
  } catch (err) {
    return new ConfigProblem(`is not a cron expression (${(err as Error).message})`);
  }
};

export const supervisorSettings = {
  runner: setting({ env: "SUPERVISOR_RUNNER", flag: "runner", parse: oneOf("process", "systemd"), default: "process" as "process" | "systemd",
    doc: "process: spawn the instances itself (quick start, tests); systemd: systemctl linkfort@PORT" }),
  ports: setting({ env: "INSTANCE_PORTS", flag: "ports", parse: portList, default: [8081, 8082, 8083], doc: "instance ports, e.g. 8081-8083" }),
  instanceHost: setting({ env: "INSTANCE_HOST", flag: "instance-host", parse: str, default: "127.0.0.1", doc: "address the instances listen on and are probed at" }),
  serviceCommand: setting({ env: "SERVICE_COMMAND", flag: "service-command", parse: optional(str), default: undefined as string | undefined,
    doc: "process runner: the linkfort binary to spawn (default: the binary beside a compiled supervisor, else the source)" }),
  seed: setting({ env: "LINKFORT_SEED", flag: "seed", parse: optional(str), default: undefined as string | undefined,
    doc: "process runner: CSV folder passed to the instances, which import it into an empty database (one imports, the others wait)" }),
  systemdUnit: setting({ env: "SYSTEMD_UNIT", flag: "systemd-unit", parse: str, default: "linkfort@", doc: "systemd runner: template unit prefix; the port follows" }),
  publicPort: setting({ env: "PUBLIC_PORT", flag: "public-port", parse: int(1, 65535), default: 8080,
    doc: "process runner: the one public port (Caddy in front when `caddy` is on PATH, else instances share it with reusePort)" }),
  caddy: setting({ env: "SUPERVISOR_CADDY", flag: "caddy", parse: oneOf("auto", "on", "off"), default: "auto" as "auto" | "on" | "off",
    doc: "process runner: start Caddy with ./Caddyfile in front (auto: when caddy is on PATH)" }),
  databaseUrl: setting({ env: "DATABASE_URL", flag: "database-url", parse: optional(postgresUrl), default: undefined as string | undefined, secret: true,
    doc: "PostgreSQL for instances and backups; unset in a source checkout starts one embedded PostgreSQL" }),
  dataDir: setting({ env: "DATA_DIR", flag: "data-dir", parse: str, default: "./data", doc: "embedded PostgreSQL files (quick start)" }),
  embeddedPgPort: setting({ env: "EMBEDDED_PG_PORT", flag: "embedded-pg-port", parse: int(1, 65535), default: 54329, doc: "embedded PostgreSQL port" }),

  probeIntervalMs: setting({ env: "PROBE_INTERVAL_MS", flag: "probe-interval-ms", parse: int(50, 600_000), default: 1_000, doc: "time between /ready probes of each instance (ms)" }),
  probeTimeoutMs: setting({ env: "PROBE_TIMEOUT_MS", flag: "probe-timeout-ms", parse: int(20, 60_000), default: 800, doc: "a probe slower than this failed (ms); catches hung instances" }),
  failThreshold: setting({ env: "FAIL_THRESHOLD", flag: "fail-threshold", parse: int(1, 100), default: 3, doc: "failed probes in a row before a restart" }),
  startGraceMs: setting({ env: "START_GRACE_MS", flag: "start-grace-ms", parse: int(0, 600_000), default: 20_000, doc: "a (re)started instance has this long to become ready before probes count (ms)" }),
  backoffBaseMs: setting({ env: "RESTART_BACKOFF_BASE_MS", flag: "restart-backoff-base-ms", parse: int(0, 600_000), default: 1_000, doc: "first delay between restarts of a crash-looping instance, doubled each time (ms)" }),
  backoffMaxMs: setting({ env: "RESTART_BACKOFF_MAX_MS", flag: "restart-backoff-max-ms", parse: int(0, 3_600_000), default: 60_000, doc: "longest delay between restarts (ms)" }),
  flapRestarts: setting({ env: "FLAP_RESTARTS", flag: "flap-restarts", parse: int(2, 100), default: 3, doc: "this many restarts within FLAP_WINDOW_MS is flapping (alert)" }),
  flapWindowMs: setting({ env: "FLAP_WINDOW_MS", flag: "flap-window-ms", parse: int(1_000, 86_400_000), default: 300_000, doc: "window for counting restarts (ms)" }),
  memoryLimitMb: setting({ env: "INSTANCE_MEMORY_LIMIT_MB", flag: "instance-memory-limit-mb", parse: int(0, 1_000_000), default: 512, doc: "replace an instance whose RSS passes this (MB; 0 = off)" }),
  drainMs: setting({ env: "SHUTDOWN_DRAIN_MS", flag: "drain-ms", parse: int(0, 120_000), default: 3_000, doc: "passed to instances: how long /ready is 503 before they stop listening (ms)" }),

  backupDir: setting({ env: "BACKUP_DIR", flag: "backup-dir", parse: str, default: "./data/backups", doc: "where pg_dump files go (mode 0700)" }),
  backupSchedule: setting({ env: "BACKUP_SCHEDULE", flag: "backup-schedule", parse: cronPattern, default: "0 0 3 * * *", doc: "croner expression (seconds field allowed), UTC" }),
  backupRetentionDays: setting({ env: "BACKUP_RETENTION_DAYS", flag: "backup-retention-days", parse: int(1, 3650), default: 7, doc: "delete backups older than this, never the newest good one" }),
  restoreCheckSchedule: setting({ env: "RESTORE_CHECK_SCHEDULE", flag: "restore-check-schedule", parse: cronPattern, default: "0 0 4 * * 0", doc: "croner expression for the weekly restore test into a scratch database, UTC" }),
  backupMinFreeMb: setting({ env: "BACKUP_MIN_FREE_MB", flag: "backup-min-free-mb", parse: int(0, 10_000_000), default: 1_024, doc: "alert (and skip the dump) when the backup disk has less free space (MB)" }),
  backupMaxAgeHours: setting({ env: "BACKUP_MAX_AGE_HOURS", flag: "backup-max-age-hours", parse: int(1, 10_000), default: 26, doc: "alert when the newest good backup is older (hours)" }),
  redisUrl: setting({ env: "REDIS_URL", flag: "redis-url", parse: optional(redisUrl), default: undefined as string | undefined, secret: true,
    doc: "the instances' Redis: `backup restore --into-live` empties the redirect cache and bans it holds for the replaced data" }),
  pgBinDir: setting({ env: "PG_BIN_DIR", flag: "pg-bin-dir", parse: optional(str), default: undefined as string | undefined,
    doc: "folder of pg_dump/pg_restore; default: /usr/lib/postgresql/<server major>/bin, else PATH" }),

  discordWebhookUrl: setting({ env: "DISCORD_WEBHOOK_URL", flag: "discord-webhook-url", parse: optional(webhookUrl), default: undefined as string | undefined, secret: true,
    doc: "alerts go here; unset: alerts only go to the log" }),
  alertDedupMs: setting({ env: "ALERT_DEDUP_MS", flag: "alert-dedup-ms", parse: int(0, 86_400_000), default: 600_000, doc: "the same alert key is sent at most once in this window (ms)" }),
  clicksDroppedQuietMs: setting({ env: "CLICKS_DROPPED_QUIET_MS", flag: "clicks-dropped-quiet-ms", parse: int(1_000, 86_400_000), default: 120_000,
    doc: "a clicks-dropped alert (an instance counted clicks it could not keep) resolves after this long without another drop (ms)" }),
  alertQueueMax: setting({ env: "ALERT_QUEUE_MAX", flag: "alert-queue-max", parse: int(1, 100_000), default: 100, doc: "alerts waiting for delivery; past it the oldest are dropped and counted" }),

  statusHost: setting({ env: "STATUS_HOST", flag: "status-host", parse: str, default: "127.0.0.1", doc: "the status server binds here (keep loopback)" }),
  statusPort: setting({ env: "STATUS_PORT", flag: "status-port", parse: int(0, 65535), default: 9100, doc: "status server port: / (the console), /table, /status, /metrics, POST /rolling-restart" }),
  controlTokenFile: setting({ env: "CONTROL_TOKEN_FILE", flag: "control-token-file", parse: optional(str), default: undefined as string | undefined,
    doc: "the token POST /rolling-restart needs, written fresh (mode 0600) at every start and read by `rolling-restart`; default BACKUP_DIR/.control-token" }),
  consoleAuth: setting({ env: "CONSOLE_AUTH", flag: "console-auth", parse: oneOf("loopback", "key"), default: "loopback" as "loopback" | "key",
    doc: "the console on the status port: loopback (seen from this machine only, acting needs an admin key); key (exposed through Caddy: everything needs an admin key)" }),
  consoleScrapeMs: setting({ env: "CONSOLE_SCRAPE_MS", flag: "console-scrape-ms", parse: int(200, 60_000), default: 5_000,
    doc: "how often the console reads each instance's /metrics for its charts and the clicks-dropped alert (ms; it keeps one hour of readings)" }),
  logLevel: setting({ env: "LOG_LEVEL", flag: "log-level", parse: oneOf<LogLevel>("debug", "info", "warn", "error"), default: "info" as LogLevel, doc: "least severe level logged" }),
  logFormat: setting({ env: "LOG_FORMAT", flag: "log-format", parse: oneOf<LogFormatSetting>("auto", "json", "text"), default: "auto" as LogFormatSetting,
    doc: "auto: one readable line per event when stdout is a terminal, else one JSON object per line; json; text (instances inherit it)" }),
  noColor: setting({ env: "NO_COLOR", flag: "no-color", parse: () => true, default: false, doc: "any value: no colours in the text log format (no-color.org; instances inherit it)" }),
  drills: setting({ env: "DRILLS", flag: "drills", parse: oneOf("on", "off"), default: "off" as "on" | "off",
    doc: "on: `linkfort-supervisor drill` may inject faults into this stack (staging, quick start); off refuses, so production is never drilled by accident" }),
  adminKey: setting({ env: "LINKFORT_ADMIN_KEY", flag: "admin-key", parse: optional(str), default: undefined as string | undefined, secret: true,
    doc: "drill: an admin API key; the drill makes its own user and links with it" }),
  instanceAccessLog: setting({ env: "ACCESS_LOG", flag: "access-log", parse: bool, default: true, doc: "passed to process-runner instances" }),
} as const;

export type SupervisorConfig = ConfigOf<typeof supervisorSettings>;

export function loadSupervisorConfig(env: Record<string, string | undefined>, flags?: Map<string, string>): SupervisorConfig {
  return readConfig(supervisorSettings, env, flags);
}

/** Defaults plus overrides, for tests. */
export function testSupervisorConfig(overrides: Partial<SupervisorConfig> = {}): SupervisorConfig {
  return { ...readConfig(supervisorSettings, {}), statusPort: 0, ...overrides };
}
