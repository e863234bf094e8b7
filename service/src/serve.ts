/**
 * `linkfort serve`: database → migrations → services → listener, and the SIGTERM sequence
 * (docs/RUNBOOK.md): /ready turns 503, wait SHUTDOWN_DRAIN_MS so Caddy stops
 * sending, stop accepting, finish in-flight requests, flush clicks, close pools, exit 0.
 */
import { createApp } from "./app.ts";
import type { ServiceConfig } from "./config.ts";
import { resolveDatabase, type DatabaseHandle } from "./database.ts";
import { connect } from "./db/client.ts";
import { migrate } from "./db/migrate.ts";
import { buildDeps, type Deps } from "./deps.ts";
import { MULTIPART_BODY_LIMIT } from "./http/body-limits.ts";
import { setStdoutFormat, type Logger } from "./lib/logger.ts";
import { VERSION } from "./lib/version.ts";
import { createSystemdNotifier } from "./lib/sd-notify.ts";

const STARTUP_RETRY_MS = 60_000;

export async function serve(config: ServiceConfig, logger: Logger): Promise<void> {
  setStdoutFormat({ format: config.logFormat, noColor: config.noColor, component: String(config.port) });
  // systemd (linkfort@.service: Type=notify, WatchdogSec): READY=1 only once /ready answers 200.
  // Outside systemd these calls do nothing. The watchdog is armed by systemd only after READY=1.
  const systemd = createSystemdNotifier(undefined, { onError: (error) => logger.warn("systemd notification failed", { error }) });
  systemd.startWatchdog();
  if (config.auth === "open") {
    logger.warn("LINKFORT_AUTH=open: API keys are NOT checked; every caller is an admin. Use only for compatibility harnesses.");
  }
  const database = await resolveDatabase(config, logger);
  systemd.status("migrating the database");
  await migrateWithRetry(database.url, config, logger);

  const deps = buildDeps(config, logger, database.url);
  await announceBootstrapKey(deps, logger);
  if (config.seed) await seedIfEmpty(deps, config.seed, logger);

  const app = createApp(deps).listen({
    port: config.port,
    hostname: config.host,
    // Several instances may share one port in the quick start; the kernel balances between them.
    reusePort: true,
    // A backstop above every route's own limit; routes answer 413 JSON before this is reached.
    maxRequestBodySize: MULTIPART_BODY_LIMIT + 1024 * 1024,
  });
  // Background jobs run only in a serving process (never as a side effect of building deps).
  deps.jobs.start();
  deps.health.markReady();
  systemd.ready(`serving on ${config.host}:${config.port}`);
  logger.info("listening", { version: VERSION, host: config.host, port: config.port, pid: process.pid, auth: config.auth });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    systemd.stopping(`draining (${signal})`);
    void shutdown(signal, app.server, deps, database, config, logger).then(
      () => process.exit(0),
      (error) => { logger.error("shutdown failed", { error }); process.exit(1); },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  if (config.exitWithStdin) void stdinClosed().then(() => stop("stdin closed"));
}

/** Resolves when stdin reaches end of file: the process holding its other end is gone. */
async function stdinClosed(): Promise<void> {
  for await (const _ of Bun.stdin.stream()) { /* nothing is sent; only the end matters */ }
}

async function shutdown(
  signal: string,
  server: { stop(closeActive?: boolean): Promise<void> } | null,
  deps: Deps,
  database: DatabaseHandle,
  config: ServiceConfig,
  logger: Logger,
): Promise<void> {
  logger.info("draining", { signal, drain_ms: config.drainMs });
  deps.health.startDraining();
  await Bun.sleep(config.drainMs);
  const graceful = server?.stop(false) ?? Promise.resolve();
  const timedOut = await Promise.race([graceful.then(() => false), Bun.sleep(config.shutdownTimeoutMs).then(() => true)]);
  if (timedOut) {
    logger.warn("in-flight requests did not finish in time; closing them", { timeout_ms: config.shutdownTimeoutMs });
    await server?.stop(true);
  }
  await deps.jobs.stop(); // in reverse order of start; close() would too, this says when
  await deps.close();
  await database.release();
  logger.info("stopped", { signal });
}

/** PostgreSQL may still be starting (boot, failover): retry with backoff instead of crash-looping. */
async function migrateWithRetry(url: string, config: ServiceConfig, logger: Logger): Promise<void> {
  const deadline = Date.now() + STARTUP_RETRY_MS;
  for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
    const { sql } = connect({ url, poolMax: 2, statementTimeoutMs: 120_000, applicationName: `linkfort-migrate:${config.port}` });
    try {
      const { applied } = await migrate(sql);
      if (applied > 0) logger.info("migrations applied", { applied });
      return;
    } catch (error) {
      if (Date.now() + delay > deadline) throw error;
      logger.warn("database not ready; retrying", { error, retry_in_ms: delay });
      await Bun.sleep(delay);
    } finally {
      await sql.end({ timeout: 2 }).catch(() => {});
    }
  }
}

/**
 * A standalone `linkfort serve` on an empty database makes the first admin key (the quick start's
 * supervisor has made it already, for its banner). The secret goes to stderr as plain text only:
 * log records travel on to journald and log shippers, where a key must never be.
 */
async function announceBootstrapKey(deps: Deps, logger: Logger): Promise<void> {
  if (deps.config.auth !== "keys") return;
  const key = await deps.keys.ensureBootstrapAdminKey();
  if (!key) return;
  logger.warn("created the first admin API key; printed on stderr only, this once");
  process.stderr.write(`\n  linkfort: first admin API key (store it now, it is not shown again):\n\n    ${key}\n\n`);
}

// Arbitrary but fixed; see db/migrate.ts (…0001) and keys/repo.ts (…0002).
const SEED_LOCK_ID = 0x11f0_0003;

/** Several instances may start with the same --seed: the lock makes one import and the rest skip. */
async function seedIfEmpty(deps: Deps, dir: string, logger: Logger): Promise<void> {
  const conn = await deps.sql.reserve();
  try {
    await conn`select pg_advisory_lock(${SEED_LOCK_ID})`;
    const [row] = await conn<{ n: number }[]>`select count(*)::int as n from users`;
    if ((row?.n ?? 0) > 0) {
      logger.info("seed skipped: the database already has users", { dir });
      return;
    }
    const { runImportCommand } = await import("./imports/cli.ts");
    const files = ["users.csv", "urls.csv", "events.csv"].map((f) => `${dir}/${f}`);
    const code = await runImportCommand(files, { sql: deps.sql, db: deps.db, logger, out: (line) => logger.info("seed", { line }) });
    if (code !== 0) logger.warn("seed finished with problems", { dir, exit_code: code });
  } finally {
    await conn`select pg_advisory_unlock(${SEED_LOCK_ID})`.catch(() => {});
    conn.release();
  }
}
