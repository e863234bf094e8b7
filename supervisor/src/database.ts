/**
 * @module The database the supervisor hands to its instances: DATABASE_URL when set; otherwise
 * (quick start, source checkout) the one embedded PostgreSQL under DATA_DIR/postgres, the same
 * place and database name `linkfort serve` uses on its own, so data carries over. The daemon
 * stops it last, after every instance has drained.
 */
import { openEmbeddedDatabase } from "../../service/src/lib/embedded-postgres.ts";
import type { Logger } from "../../service/src/lib/logger.ts";

export interface SupervisedDatabase {
  url: string;
  /** Stops the embedded server if the supervisor started one; otherwise does nothing. */
  stop(): Promise<void>;
  embedded: boolean;
}

export async function openDatabase(opts: { url?: string; dataDir: string; port: number; logger: Logger; signal?: AbortSignal }): Promise<SupervisedDatabase> {
  if (opts.url) return { url: opts.url, stop: async () => {}, embedded: false };
  const db = await openEmbeddedDatabase({ dataDir: opts.dataDir, port: opts.port, logger: opts.logger, signal: opts.signal });
  return { url: db.url, stop: db.release, embedded: db.owned };
}
