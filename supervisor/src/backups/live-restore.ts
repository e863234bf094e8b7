/**
 * @module The safety net around `backup restore FILE --into-live`: refuse while linkfort instances
 * are connected (they would serve, and write, across the swap), dump the data being replaced
 * first (the undo), and afterwards empty what Redis holds from the old data.
 */
import Redis from "ioredis";
import { closeSession, databaseName, openSession, serverVersion } from "./connection.ts";
import { dumpDatabase } from "./dump.ts";
import { primaryHostUrl } from "./dump-source.ts";
import { ensurePrivateDir } from "./durable-fs.ts";
import type { PgTools } from "./pg-tools.ts";
import { restoreBackup, type RestoreResult } from "./restore.ts";

/**
 * Keys derived from the data: cached redirects (service/src/cache/redis-tier.ts `codeKey`) and
 * bans (service/src/limits/redis-store.ts `banKey`; every instance copies the bans table back at
 * start). Rate counters and strikes are not data and stay. The supervisor may not import the
 * service's domain folders; backups.live-restore.test.ts checks these against them.
 */
export const RESTORE_REDIS_PATTERNS = ["lf:code:*", "limits:ban:*"] as const;

/** The application names of linkfort sessions on the database: instances' pools and LISTEN connections, migrations. */
export async function linkfortSessions(databaseUrl: string): Promise<string[]> {
  const sql = openSession(databaseUrl, "linkfort-restore");
  try {
    const rows = await sql<{ name: string }[]>`
      select application_name as name from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid()
        and (application_name like 'linkfort:%' or application_name like 'linkfort-listen:%' or application_name like 'linkfort-migrate:%')
      order by 1`;
    return rows.map((r) => r.name);
  } finally {
    await closeSession(sql);
  }
}

/** Deletes every key of RESTORE_REDIS_PATTERNS; the count, or why not. */
export async function clearRestoredRedis(redisUrl: string): Promise<{ ok: true; deleted: number } | { ok: false; error: string }> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5_000, commandTimeout: 10_000, retryStrategy: () => null });
  redis.on("error", () => {}); // reported through the rejected command below
  try {
    await redis.connect();
    let deleted = 0;
    for (const pattern of RESTORE_REDIS_PATTERNS) {
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
        cursor = next;
        if (keys.length > 0) deleted += await redis.unlink(...keys);
      } while (cursor !== "0");
    }
    return { ok: true, deleted };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  } finally {
    redis.disconnect();
  }
}

export interface LiveRestoreInput {
  tools: PgTools;
  file: string;
  databaseUrl: string;
  backupDir: string;
  redisUrl: string | undefined;
  out: (line: string) => void;
}

/** The whole `--into-live` sequence; the exit code (0 restored, 1 refused or failed). */
export async function restoreIntoLive(input: LiveRestoreInput): Promise<{ code: number; restored?: RestoreResult & { ok: true }; safety?: string }> {
  const { out } = input;
  const sessions = await linkfortSessions(input.databaseUrl).catch((err: Error) => err);
  if (sessions instanceof Error) { out(`cannot list the database's sessions: ${sessions.message}`); return { code: 1 }; }
  if (sessions.length > 0) {
    const n = sessions.length;
    out(`refusing: ${n} connection${n === 1 ? "" : "s"} from linkfort instances (${[...new Set(sessions)].join(", ")}) ${n === 1 ? "is" : "are"} open to the live database; ` +
      "stop them first (VM: systemctl stop linkfort.target; quick start: stop linkfort-supervisor run), then run this again");
    return { code: 1 };
  }
  const sql = openSession(input.databaseUrl, "linkfort-restore");
  const server = await serverVersion(sql).catch((err: Error) => err).finally(() => closeSession(sql));
  if (server instanceof Error) { out(`cannot reach the database: ${server.message}`); return { code: 1 }; }

  out(`dumping the data being replaced into ${input.backupDir} first…`);
  await ensurePrivateDir(input.backupDir);
  // One server for the snapshot session and pg_dump (a snapshot lives where it was exported).
  const safety = await dumpDatabase({ tools: input.tools, databaseUrl: await primaryHostUrl(input.databaseUrl), dir: input.backupDir, now: new Date(), serverVersion: server.text })
    .catch((err: Error) => ({ ok: false as const, stage: "dump" as const, error: err.message }));
  if (!safety.ok) { out(`safety dump failed (${safety.stage}): ${safety.error}; nothing was restored`); return { code: 1 }; }
  out(`safety dump of the data being replaced: ${safety.file.path}`);

  out(`restoring ${input.file} INTO THE LIVE DATABASE ${databaseName(input.databaseUrl)} (one transaction: all or nothing)…`);
  const restored = await restoreBackup({ tools: input.tools, file: input.file, databaseUrl: input.databaseUrl, target: { kind: "live" } });
  if (!restored.ok) { out(`restore failed (${restored.stage}): ${restored.error}; the live data is unchanged`); return { code: 1, safety: safety.file.path }; }
  out(`restored into database ${restored.database} in ${restored.durationSeconds.toFixed(1)} s`);

  if (input.redisUrl === undefined) {
    out(`REDIS_URL is unset here: if the instances use Redis, delete ${RESTORE_REDIS_PATTERNS.join(" and ")} there before starting them (cached redirects and bans of the replaced data)`);
  } else {
    const cleared = await clearRestoredRedis(input.redisUrl);
    out(cleared.ok
      ? `redis: deleted ${cleared.deleted} keys (cached redirects lf:code:*, bans limits:ban:*); the instances copy the restored bans back from PostgreSQL at start`
      : `WARNING: redis could not be cleared (${cleared.error}): delete ${RESTORE_REDIS_PATTERNS.join(" and ")} before starting the instances`);
  }
  out(`to undo: linkfort-supervisor backup restore ${safety.file.name} --into-live --yes`);
  return { code: 0, restored, safety: safety.file.path };
}
