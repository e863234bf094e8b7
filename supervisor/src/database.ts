/**
 * @module The database the supervisor hands to its instances: DATABASE_URL when set; otherwise
 * (quick start, source checkout) the one embedded PostgreSQL under DATA_DIR/postgres, the same
 * place and database name `linkfort serve` uses on its own, so data carries over. The daemon
 * stops it last, after every instance has drained. Under the daemon (`restartOnExit`) an embedded
 * server that ends by itself (a crash, a signal from outside, a drill) is started again: nothing
 * else would, and the instances only wait for it.
 */
import { openEmbeddedDatabase, type EmbeddedDatabase } from "../../service/src/lib/embedded-postgres.ts";
import type { Logger } from "../../service/src/lib/logger.ts";
import type { Alerter } from "./alerts/alert.ts";
import { keepRunning } from "./keep-running.ts";

/** Raised while the embedded PostgreSQL ended and does not start again (a full disk, for one). */
export const EMBEDDED_POSTGRES_DOWN = "embedded-postgres-down";

export interface SupervisedDatabase {
  url: string;
  /** Stops the embedded server if the supervisor started one; otherwise does nothing. */
  stop(): Promise<void>;
  embedded: boolean;
}

export interface OpenDatabaseOptions {
  url?: string;
  dataDir: string;
  port: number;
  logger: Logger;
  signal?: AbortSignal;
  /** Start the embedded server again whenever it ends before stop() (the daemon; default false). */
  restartOnExit?: boolean;
  /** Told when a restart fails (EMBEDDED_POSTGRES_DOWN) and when it works again. */
  alerter?: Alerter;
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<SupervisedDatabase> {
  if (opts.url) return { url: opts.url, stop: async () => {}, embedded: false };
  const open = () => openEmbeddedDatabase({ dataDir: opts.dataDir, port: opts.port, logger: opts.logger, signal: opts.signal });
  const db = await open();
  if (!db.owned || !opts.restartOnExit) return { url: db.url, stop: db.release, embedded: db.owned };
  return keptRunning(db, open, opts.logger, opts.alerter);
}

function keptRunning(first: EmbeddedDatabase, open: () => Promise<EmbeddedDatabase>, logger: Logger, alerter: Alerter | undefined): SupervisedDatabase {
  const asChild = (db: EmbeddedDatabase) => ({ exited: db.exited, stop: () => db.release() });
  const kept = keepRunning(asChild(first), async () => asChild(await open()), {
    name: "embedded PostgreSQL", logger, firstDelayMs: 250, ...(alerter ? { alert: { alerter, key: EMBEDDED_POSTGRES_DOWN } } : {}),
  });
  return { url: first.url, embedded: true, stop: kept.stop };
}
