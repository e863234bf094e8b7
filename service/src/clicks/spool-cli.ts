/**
 * `linkfort spool status [DIR]`: never migrates, never writes, and does not wait long for a
 * database that may be the reason it is being run.
 */
import type { ServiceConfig } from "../config.ts";
import { connect } from "../db/client.ts";
import { formatSpoolReports, positionReader, readSpoolReports } from "./spool-status.ts";
import { spoolRoot } from "./wire.ts";

const USAGE = "usage: linkfort spool status [DIR]";

export async function runSpoolCommand(args: string[], io: { config: ServiceConfig; out(line: string): void }): Promise<number> {
  if (args[0] !== "status" || args.length > 2) { io.out(USAGE); return 2; }
  const dir = args[1] ?? spoolRoot(io.config);
  if (!io.config.databaseUrl) {
    io.out(formatSpoolReports(await readSpoolReports(dir), "DATABASE_URL is unset"));
    return 0;
  }
  const { sql } = connect({ url: io.config.databaseUrl, poolMax: 1, statementTimeoutMs: 5_000, applicationName: "linkfort-spool-status" });
  try {
    const read = positionReader(sql);
    await read(""); // fails here, once, when PostgreSQL is not reachable
    io.out(formatSpoolReports(await readSpoolReports(dir, read), ""));
  } catch (error) {
    io.out(formatSpoolReports(await readSpoolReports(dir), `PostgreSQL not reachable: ${error instanceof Error ? error.message : String(error)}`));
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
  return 0;
}
