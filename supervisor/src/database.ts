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
}

/** Attempts to start it again after one exit, 250 ms apart and doubling up to 5 s: about a minute in all. */
const RESTART_ATTEMPTS = 16;

export async function openDatabase(opts: OpenDatabaseOptions): Promise<SupervisedDatabase> {
  if (opts.url) return { url: opts.url, stop: async () => {}, embedded: false };
  const open = () => openEmbeddedDatabase({ dataDir: opts.dataDir, port: opts.port, logger: opts.logger, signal: opts.signal });
  const db = await open();
  if (!db.owned || !opts.restartOnExit) return { url: db.url, stop: db.release, embedded: db.owned };
  return keepRunning(db, open, opts.logger);
}

function keepRunning(first: EmbeddedDatabase, open: () => Promise<EmbeddedDatabase>, logger: Logger): SupervisedDatabase {
  let current = first;
  let stopping = false;
  const restartOnce = async (): Promise<boolean> => {
    for (let attempt = 0; attempt < RESTART_ATTEMPTS; attempt++) {
      await Bun.sleep(Math.min(250 * 2 ** attempt, 5_000));
      if (stopping) return false;
      try {
        current = await open();
        if (stopping) await current.release();
        logger.info("embedded PostgreSQL started again", { attempt: attempt + 1 });
        return !stopping;
      } catch (error) {
        logger.error("embedded PostgreSQL did not start again", { attempt: attempt + 1, error });
      }
    }
    return false;
  };
  const loop = (async () => {
    for (;;) {
      await current.exited;
      if (stopping) return;
      logger.warn("embedded PostgreSQL exited; starting it again");
      if (!(await restartOnce())) return;
    }
  })();
  return {
    url: first.url,
    embedded: true,
    async stop() {
      stopping = true;
      await current.release();
      await loop;
    },
  };
}
