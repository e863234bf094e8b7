/**
 * Composition root: builds the pool, metrics and every service once, in dependency order, and
 * hands them to the app. Nothing connects at import time; tests call `buildDeps` with a test
 * config and their own database URL.
 */
import { connect, type Db, type Sql } from "./db/client.ts";
import { openAuthenticator, type Authenticator } from "./http/auth.ts";
import type { Logger } from "./lib/logger.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import type { ServiceConfig } from "./config.ts";
import { createHealth, type Health } from "./health/state.ts";
import { createUsersRepo } from "./users/repo.ts";
import { createUsersService, type UsersService } from "./users/service.ts";

export interface Deps {
  config: ServiceConfig;
  logger: Logger;
  metrics: Metrics;
  sql: Sql;
  db: Db;
  health: Health;
  auth: Authenticator;
  users: UsersService;
  /** Stops background work (click flush, …) and closes the pool; called once at shutdown. */
  close(): Promise<void>;
}

export function buildDeps(config: ServiceConfig, logger: Logger, databaseUrl: string): Deps {
  const metrics = createMetrics();
  const { sql, db } = connect({
    url: databaseUrl,
    poolMax: config.dbPoolMax,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    applicationName: `linkfort:${config.port}`,
  });
  metrics.dbPoolMax.set(config.dbPoolMax);
  const health = createHealth({ sql, metrics });
  const auth: Authenticator = openAuthenticator; // wire: auth
  const usersRepo = createUsersRepo(db);
  const users = createUsersService(usersRepo);

  // wire: urls, events, redirect, clicks
  // wire: imports

  const closers: (() => Promise<void>)[] = []; // wire: background jobs
  return {
    config, logger, metrics, sql, db, health, auth, users,
    async close() {
      for (const stop of closers) await stop().catch((error) => logger.error("shutdown step failed", { error }));
      await sql.end({ timeout: 5 });
    },
  };
}
