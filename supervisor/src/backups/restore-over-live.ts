/**
 * @module pg_restore over the live database, in one transaction. `pg_restore --clean` on its own
 * cannot: it drops a partition's primary key before its parent's, and PostgreSQL refuses to drop
 * an inherited constraint, so a database with a partitioned table (events) could not be restored
 * in place. Here pg_restore writes its script (`--clean --if-exists`), and psql runs it behind a
 * preamble that first drops the live partitioned tables with their partitions; the script's own
 * drops of those then find nothing. --single-transaction with ON_ERROR_STOP: any error rolls back
 * everything, the preamble included.
 */
import { dirname, join } from "node:path";
import { closeSession, libpqTarget, openSession, quoteIdent } from "./connection.ts";
import type { PgTools } from "./pg-tools.ts";
import { describeFailure } from "./run-tool.ts";

const STDERR_TAIL = 4_096;

/** The live database's partitioned tables, schema-qualified and quoted. */
async function partitionedTables(url: string): Promise<string[]> {
  const sql = openSession(url, "linkfort-restore");
  try {
    const rows = await sql<{ schema: string; name: string }[]>`
      select n.nspname as schema, c.relname as name from pg_partitioned_table p
      join pg_class c on c.oid = p.partrelid join pg_namespace n on n.oid = c.relnamespace
      where not c.relispartition order by 1, 2`;
    return rows.map((r) => `${quoteIdent(r.schema)}.${quoteIdent(r.name)}`);
  } finally {
    await closeSession(sql);
  }
}

/** null on success, else why (pg_restore's or psql's own words). */
export async function restoreOverLive(tools: PgTools, file: string, url: string, signal?: AbortSignal, role?: string): Promise<string | null> {
  const psqlPath = join(dirname(tools.pgRestore), "psql");
  if (!(await Bun.file(psqlPath).exists())) return `psql not found beside pg_restore (${psqlPath}): install postgresql-client-${tools.major}`;
  let preamble: string;
  try {
    const tables = await partitionedTables(url);
    preamble = [
      ...(role ? [`SET ROLE ${quoteIdent(role)};`] : []),
      ...tables.map((t) => `DROP TABLE IF EXISTS ${t} CASCADE;`),
      "",
    ].join("\n");
  } catch (err) {
    return `reading the live database's partitioned tables: ${(err as Error).message}`;
  }
  const { dbname, env } = libpqTarget(url);
  const childEnv = { ...process.env, LC_ALL: "C", ...env };
  const script = Bun.spawn([tools.pgRestore, "--no-owner", "--clean", "--if-exists", "--file=-", file], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: childEnv });
  const input = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(new TextEncoder().encode(preamble));
      for await (const chunk of script.stdout) controller.enqueue(chunk);
      controller.close();
    },
  });
  const psql = Bun.spawn(
    [psqlPath, "--no-password", "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1", `--dbname=${dbname}`],
    { stdin: input, stdout: "ignore", stderr: "pipe", env: childEnv },
  );
  const kill = () => { script.kill("SIGTERM"); psql.kill("SIGTERM"); };
  signal?.addEventListener("abort", kill, { once: true });
  try {
    const [restoreErr, psqlErr, restoreCode, psqlCode] = await Promise.all([
      new Response(script.stderr).text(), new Response(psql.stderr).text(), script.exited, psql.exited,
    ]);
    if (restoreCode !== 0) return describeFailure("pg_restore", { code: restoreCode, stdout: "", stderr: restoreErr.trim().slice(-STDERR_TAIL) });
    if (psqlCode !== 0) return describeFailure("psql", { code: psqlCode, stdout: "", stderr: psqlErr.trim().slice(-STDERR_TAIL) });
    return null;
  } finally {
    signal?.removeEventListener("abort", kill);
  }
}
