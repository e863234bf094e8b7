/**
 * Where the service's database is: DATABASE_URL when set; otherwise, in a source checkout, the
 * embedded PostgreSQL under DATA_DIR (started here, or reused if another linkfort process
 * of this checkout already runs it).
 */
import postgres from "postgres";
import type { ServiceConfig } from "./config.ts";
import type { Logger } from "./lib/logger.ts";

export const EMBEDDED_DB_NAME = "linkfort";

export interface DatabaseHandle {
  url: string;
  /** Stops the embedded server if this process started it; otherwise does nothing. */
  release(): Promise<void>;
}

export async function resolveDatabase(config: ServiceConfig, logger: Logger): Promise<DatabaseHandle> {
  if (config.databaseUrl) return { url: config.databaseUrl, release: async () => {} };

  const embedded = await import("./lib/embedded-postgres.ts");
  if (!(await embedded.embeddedPostgresAvailable())) {
    throw new Error("DATABASE_URL is not set, and embedded PostgreSQL is only available from a source checkout (npm install); set DATABASE_URL");
  }
  const adminUrl = `postgres://postgres:linkfort@127.0.0.1:${config.embeddedPgPort}/postgres`;
  if (await answers(adminUrl)) {
    logger.info("using the embedded PostgreSQL that is already running", { port: config.embeddedPgPort });
    await embedded.ensureDatabase(adminUrl, EMBEDDED_DB_NAME);
    return { url: adminUrl.replace(/\/postgres$/, `/${EMBEDDED_DB_NAME}`), release: async () => {} };
  }
  logger.info("starting embedded PostgreSQL", { dir: `${config.dataDir}/postgres`, port: config.embeddedPgPort });
  const server = await embedded.startEmbeddedPostgres({
    dir: `${config.dataDir}/postgres`,
    port: config.embeddedPgPort,
    ownShutdown: true,
    onLog: (line) => logger.debug("postgres", { line: line.trim() }),
  });
  await embedded.ensureDatabase(server.adminUrl, EMBEDDED_DB_NAME);
  return { url: server.urlFor(EMBEDDED_DB_NAME), release: () => server.stop() };
}

async function answers(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 1, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}
