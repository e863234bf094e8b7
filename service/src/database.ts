/**
 * Where the service's database is: DATABASE_URL when set; otherwise, in a source checkout, the
 * embedded PostgreSQL under DATA_DIR (started here, or reused if another linkfort process of
 * this checkout already runs it).
 */
import type { ServiceConfig } from "./config.ts";
import type { Logger } from "./lib/logger.ts";

export interface DatabaseHandle {
  url: string;
  /** Stops the embedded server if this process started it; otherwise does nothing. */
  release(): Promise<void>;
}

export async function resolveDatabase(config: ServiceConfig, logger: Logger): Promise<DatabaseHandle> {
  if (config.databaseUrl) return { url: config.databaseUrl, release: async () => {} };
  const { openEmbeddedDatabase } = await import("./lib/embedded-postgres.ts");
  return openEmbeddedDatabase({ dataDir: config.dataDir, port: config.embeddedPgPort, logger });
}
