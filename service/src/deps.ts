/**
 * Composition root: builds the pool, metrics and every service once, in dependency order, and
 * hands them to the app. Nothing connects at import time; tests call `buildDeps` with a test
 * config and their own database URL.
 */
import { connect, type Db, type DbOptions, type Sql } from "./db/client.ts";
import { needsFollower } from "./db/primary.ts";
import { registerPoolMetrics } from "./db/pool-metrics.ts";
import { connectRedis, type RedisClients } from "./redis.ts";
import { clientIpResolver, parseTrustedProxies, type ClientIpResolver } from "./http/client-ip.ts";
import { openAuthenticator, type Authenticator } from "./http/auth.ts";
import { createKeysRepo } from "./keys/repo.ts";
import { createKeysService, type KeysService } from "./keys/service.ts";
import type { Logger } from "./lib/logger.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import type { ServiceConfig } from "./config.ts";
import { createHealth, type Health } from "./health/state.ts";
import { createImportsRepo } from "./imports/repo.ts";
import { createImportsService, type ImportsService } from "./imports/service.ts";
import { createUsersRepo } from "./users/repo.ts";
import { createUsersService, type UsersService } from "./users/service.ts";
import { createUrlsRepo } from "./urls/repo.ts";
import { createUrlsService, type UrlsService } from "./urls/service.ts";
import { createEventsRepo } from "./events/repo.ts";
import { createEventsService, type EventsService } from "./events/service.ts";
import { wireClicks } from "./clicks/wire.ts";
import type { SpoolBacklog } from "./clicks/shipping.ts";
import { createStatsRepo } from "./stats/repo.ts";
import { createStatsService, type StatsService } from "./stats/service.ts";
import { createQrService, type QrService } from "./qr/service.ts";
import type { ClickSink } from "./clicks/sink.ts";
import { wireRedirectCache, type RedirectCache } from "./redirect/wire.ts";
import { jobRunner, type JobRunner } from "./lib/jobs.ts";
import { createRedirectService, type RedirectService } from "./redirect/service.ts";
import { createCappedFollow } from "./redirect/click-cap.ts";
import { buildRateLimits, type RateLimits } from "./limits/wire.ts";
import { createEventPartitions } from "./db/event-partitions.ts";
import { registerEventMetrics } from "./db/event-metrics.ts";

// The event partition job's round (ms) and its DDL's longest lock wait (ms): a month is added long
// before it starts, and a request waits behind an ATTACH or DROP at most this long.
const EVENT_PARTITIONS_EVERY_MS = 3_600_000;
const EVENT_DDL_LOCK_TIMEOUT_MS = 300;

export interface Deps {
  config: ServiceConfig;
  logger: Logger;
  metrics: Metrics;
  sql: Sql;
  db: Db;
  health: Health;
  auth: Authenticator;
  /** API keys: the authenticator in `keys` mode, /admin/keys, the bootstrap admin key. */
  keys: KeysService;
  users: UsersService;
  /** POST /users/bulk (the CLI import builds its own repo from `sql`). */
  imports: ImportsService;
  urls: UrlsService;
  events: EventsService;
  /** GET /urls/:id/stats, read from the click rollups. */
  stats: StatsService;
  /** GET /urls/:id/qr: QR codes of short URLs on PUBLIC_URL. */
  qr: QrService;
  /** GET /:short_code: resolve the code, hand the click to `clicks`. */
  redirect: RedirectService;
  /** Where redirects put clicks: the instance's spool, shipped to events in batches. */
  clicks: ClickSink;
  /** The click spool's backlog, for /health. */
  clickBacklog(): SpoolBacklog;
  /** The client's address for limits and click records (X-Forwarded-For only from TRUSTED_PROXIES). */
  clientIp: ClientIpResolver;
  /** Undefined when REDIS_URL is unset; may be down at any moment (see redis.ts). */
  redis: RedisClients | undefined;
  /** The redirect's LRU → Redis → PostgreSQL lookup and its invalidation through PostgreSQL (redirect/wire.ts). */
  cache: RedirectCache;
  /** Background jobs (the invalidation listener, …): `serve` starts them once it listens; close() stops them. */
  jobs: JobRunner;
  /** Per-IP and per-key limits, ban escalation, /admin/bans and the ban sync (limits/). */
  rateLimits: RateLimits;
  /** Stops background work (click flush, …) and closes the pool; called once at shutdown. */
  close(): Promise<void>;
}

export function buildDeps(config: ServiceConfig, logger: Logger, databaseUrl: string): Deps {
  const metrics = createMetrics();
  const applicationName = `linkfort:${config.port}`;
  const dbOptions: DbOptions = {
    url: databaseUrl,
    poolMax: config.dbPoolMax,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    lockTimeoutMs: config.dbLockTimeoutMs,
    // A statement the server runs may take up to its timeout; only silence beyond that is a fault.
    responseTimeoutMs: config.dbResponseTimeoutMs === 0 ? 0 : Math.max(config.dbResponseTimeoutMs, config.dbStatementTimeoutMs + 1_000),
    queueTimeoutMs: config.dbQueueTimeoutMs,
    onResponseTimeout: (silentMs, limitMs) => {
      metrics.dbConnectionsSilent.inc();
      logger.warn("PostgreSQL connection closed: no answer with a query outstanding", { silent_ms: silentMs, limit_ms: limitMs });
    },
    // A cluster DATABASE_URL only (db/primary.ts): says when a failover moved the writes.
    onPrimaryChange: (primary) => {
      if (primary) logger.info("PostgreSQL primary found", { primary });
      else logger.warn("PostgreSQL primary lost; looking for the current one");
    },
    applicationName,
  };
  const { sql, db } = connect(dbOptions);
  // A cluster URL: a small pool of reads any server answers (a standby preferred) for redirect misses while the primary is slow or gone (redirect/hedged-resolve.ts).
  const standby = needsFollower(databaseUrl) ? connect({ ...dbOptions, poolMax: 2, reads: true, onPrimaryChange: undefined, applicationName: `${applicationName}:reads` }) : undefined;
  metrics.dbPoolMax.set(config.dbPoolMax);
  registerPoolMetrics(metrics, sql, applicationName);
  const health = createHealth({ sql, metrics });
  const redis = config.redisUrl ? connectRedis(config.redisUrl, logger) : undefined;
  const clientIp = clientIpResolver(parseTrustedProxies(config.trustedProxies));
  // wire: cache
  const cache = wireRedirectCache({ config, sql, standbySql: standby?.sql, databaseUrl, redis, metrics, logger });
  // wire: click spool
  const clickPipeline = wireClicks({ config, sql, metrics, logger });
  const clicks: ClickSink = clickPipeline.sink;
  // wire: rate limits
  const rateLimits = buildRateLimits(config, { db, redis, metrics, logger });
  rateLimits.sync?.start();
  const keys = createKeysService(createKeysRepo(db), { logger }); // wire: auth
  const auth: Authenticator = config.auth === "keys" ? keys : openAuthenticator;
  const usersRepo = createUsersRepo(db);
  const users = createUsersService(usersRepo, cache.settle);

  // wire: urls, events, redirect, clicks
  const urlsRepo = createUrlsRepo(db);
  const urls = createUrlsService(urlsRepo, cache.settle);
  const events = createEventsService(createEventsRepo(db), urlsRepo.findById);
  const stats = createStatsService({ repo: createStatsRepo(sql), getUrl: urls.get });
  const qr = createQrService({ getUrl: urls.get, publicOrigin: config.publicUrl });
  const capped = createCappedFollow({ caps: clickPipeline.caps, clicks, metrics });
  const redirect = createRedirectService({ lookup: cache.lookup, clicks, capped });
  const imports = createImportsService(createImportsRepo(sql)); // wire: imports

  // wire: event partitions
  const eventPartitions = createEventPartitions(sql, {
    monthsAhead: config.eventPartitionsAhead, retentionMonths: config.eventRetentionMonths, copyBatchRows: config.eventConversionBatch,
    lockTimeoutMs: EVENT_DDL_LOCK_TIMEOUT_MS, everyMs: EVENT_PARTITIONS_EVERY_MS,
  }, logger, registerEventMetrics(metrics, sql));
  const jobs = jobRunner([...cache.jobs, clickPipeline.job, eventPartitions.job], logger);
  const closers: (() => Promise<void>)[] = []; // wire: background jobs
  closers.push(() => jobs.stop());
  closers.push(async () => rateLimits.sync?.stop());
  closers.push(() => clicks.stop()); // after jobs.stop (a no-op then); writes the last clicks when jobs never ran
  return {
    config, logger, metrics, sql, db, health, auth, redis, cache, jobs, clientIp, keys, users, imports, urls, events, stats, qr, redirect, clicks, rateLimits,
    clickBacklog: clickPipeline.backlog,
    async close() {
      for (const stop of closers) await stop().catch((error) => logger.error("shutdown step failed", { error }));
      await redis?.close();
      await sql.end({ timeout: 5 });
      await standby?.sql.end({ timeout: 5 });
    },
  };
}
