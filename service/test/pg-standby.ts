/**
 * A real PostgreSQL primary with a streaming hot standby on random loopback ports, for tests of
 * what happens when the primary fails over (the service following the primary, backups taken
 * from a replica). Built from the same binaries and start-up code as every other test server
 * (src/lib/postgres-server.ts, which runs them in a user namespace when we are root).
 *
 * The standby is a copy of the primary's data directory taken after a clean shutdown, with
 * standby.signal and primary_conninfo: what pg_basebackup -R writes, without needing its binary
 * (the embedded package ships only initdb, pg_ctl and postgres).
 *
 * `synchronous: true` names the standby in synchronous_standby_names, so a commit is acknowledged
 * only once the standby has flushed it: what Patroni's synchronous_mode gives production, and what
 * lets a test show that no acknowledged write is lost when the primary dies.
 */
import { readFileSync, readdirSync } from "node:fs";
import { appendFile, cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { connect } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";
import { startPostgresServer, type PostgresServer } from "../src/lib/postgres-server.ts";
import { freePort } from "./ports.ts";
import { waitFor } from "./wait.ts";

const USER = "postgres";
const PASSWORD = "linkfort";
/** The standby's name in pg_stat_replication and synchronous_standby_names. */
export const STANDBY_NAME = "standby1";

/** Small and quick: two test servers share the machine with everything else. */
const TEST_SETTINGS: Record<string, string> = {
  max_connections: "100",
  shared_buffers: "32MB",
  // The OS page cache outlives a killed server: losing fsync risks nothing a process kill tests.
  fsync: "off",
  wal_level: "replica",
  max_wal_senders: "5",
  hot_standby: "on",
  // The standby reconnects soon after a restart of its primary, and notices a dead one soon.
  wal_receiver_timeout: "5s",
  wal_retrieve_retry_interval: "200ms",
};

export interface PgPair {
  primaryPort: number;
  standbyPort: number;
  /** A single-host URL of `database` on the primary (or the standby) as superuser. */
  primaryUrl(database?: string): string;
  standbyUrl(database?: string): string;
  /**
   * The URL an operator writes for a cluster: every host, in the given order (the standby first
   * by default, so a client that ignores target_session_attrs lands on the wrong one), and
   * target_session_attrs=read-write.
   */
  clusterUrl(database?: string, order?: ("standby" | "primary")[]): string;
  /** Waits until the standby has replayed everything the primary has written so far. */
  waitReplayed(timeoutMs?: number): Promise<void>;
  /** The primary's process dies with SIGKILL, every backend with it (a host that lost power). */
  killPrimary(): Promise<void>;
  /**
   * Every process of the primary stops (SIGSTOP) with its sockets open: a host that lost power or
   * a cut network as clients see it (no FIN, no RST; connects hang). killPrimary() or stop() ends it.
   */
  freezePrimary(): void;
  /** A fast shutdown of the primary (SIGINT), waited for. */
  stopPrimary(): Promise<void>;
  /** A fast shutdown of the standby (SIGINT), waited for: a replica that is gone. */
  stopStandby(): Promise<void>;
  /** Promotes the standby (pg_promote, waited for) and returns when it accepts writes. */
  promote(): Promise<void>;
  /** Stops both servers and deletes their files. */
  stop(): Promise<void>;
}

export interface PgPairOptions {
  /** Acknowledge a commit only once the standby has flushed it (synchronous_standby_names). */
  synchronous?: boolean;
  /** Extra `-c` settings for both servers. */
  settings?: Record<string, string>;
}

const urlOf = (port: number, database: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;

/** Runs one statement on `url` over a short-lived connection. */
async function query<T extends Record<string, unknown>>(url: string, text: string): Promise<T[]> {
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    return await sql.unsafe<T[]>(text);
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/** The pids whose parent is `pid`, from /proc (the postmaster's backends). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces, so read after its closing parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch { /* the process ended meanwhile */ }
  }
  return children;
}

const signal = (pid: number, sig: NodeJS.Signals) => { try { process.kill(pid, sig); } catch { /* already gone */ } };

export async function startPrimaryAndStandby(opts: PgPairOptions = {}): Promise<PgPair> {
  const root = await mkdtemp(join(tmpdir(), "linkfort-test-pg-pair-"));
  const primaryDir = join(root, "primary");
  const standbyDir = join(root, "standby");
  const [primaryPort, standbyPort] = [await freePort(), await freePort()];
  const settings = { ...TEST_SETTINGS, ...opts.settings };
  const start = (dir: string, port: number, extra: Record<string, string> = {}) =>
    startPostgresServer({ dir, port, user: USER, password: PASSWORD, settings: { ...settings, ...extra } });

  // initdb, then a clean stop: a cleanly stopped data directory is a valid base for a standby.
  await (await start(primaryDir, primaryPort)).stop();
  await cp(primaryDir, standbyDir, { recursive: true, preserveTimestamps: true });
  await writeFile(join(standbyDir, "standby.signal"), "");
  const conninfo = `host=127.0.0.1 port=${primaryPort} user=${USER} password=${PASSWORD} application_name=${STANDBY_NAME}`;
  await appendFile(join(standbyDir, "postgresql.auto.conf"), `primary_conninfo = '${conninfo}'\n`);

  let primary: PostgresServer | undefined;
  let standby: PostgresServer | undefined;
  try {
    primary = await start(primaryDir, primaryPort, opts.synchronous ? { synchronous_standby_names: STANDBY_NAME } : {});
    standby = await start(standbyDir, standbyPort);
    await waitFor("the standby to stream from the primary", async () => {
      const rows = await query<{ state: string; sync_state: string }>(urlOf(primaryPort, "postgres"),
        `select state, sync_state from pg_stat_replication where application_name = '${STANDBY_NAME}'`);
      return rows[0]?.state === "streaming" && (!opts.synchronous || rows[0].sync_state === "sync");
    }, 60_000, { everyMs: 100, retryErrors: true });
  } catch (error) {
    await standby?.stop().catch(() => {});
    await primary?.stop().catch(() => {});
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  const running = { primary: primary as PostgresServer | undefined, standby: standby as PostgresServer | undefined };
  let frozen = false;

  const pair: PgPair = {
    primaryPort,
    standbyPort,
    primaryUrl: (database = "postgres") => urlOf(primaryPort, database),
    standbyUrl: (database = "postgres") => urlOf(standbyPort, database),
    clusterUrl(database = "postgres", order = ["standby", "primary"]) {
      const hosts = order.map((role) => `127.0.0.1:${role === "standby" ? standbyPort : primaryPort}`).join(",");
      return `postgres://${USER}:${PASSWORD}@${hosts}/${database}?target_session_attrs=read-write`;
    },
    async waitReplayed(timeoutMs = 30_000) {
      const [row] = await query<{ lsn: string }>(urlOf(primaryPort, "postgres"), "select pg_current_wal_lsn()::text as lsn");
      await waitFor("the standby to replay the primary's WAL", async () => {
        const [r] = await query<{ behind: boolean }>(urlOf(standbyPort, "postgres"), `select pg_last_wal_replay_lsn() < '${row!.lsn}'::pg_lsn as behind`);
        return r?.behind === false;
      }, timeoutMs, { everyMs: 50, retryErrors: true });
    },
    async killPrimary() {
      const server = running.primary;
      if (!server) return;
      // Stopped first so it forks no new backend while they are collected; then all at once.
      signal(server.pid, "SIGSTOP");
      for (const child of childrenOf(server.pid)) signal(child, "SIGKILL");
      signal(server.pid, "SIGKILL");
      await server.exited;
      running.primary = undefined;
      frozen = false;
    },
    freezePrimary() {
      const server = running.primary;
      if (!server) return;
      signal(server.pid, "SIGSTOP");
      for (const child of childrenOf(server.pid)) signal(child, "SIGSTOP");
      frozen = true;
    },
    async stopPrimary() {
      if (frozen) return pair.killPrimary();
      await running.primary?.stop();
      running.primary = undefined;
    },
    async stopStandby() {
      await running.standby?.stop();
      running.standby = undefined;
    },
    async promote() {
      await query(urlOf(standbyPort, "postgres"), "select pg_promote(true, 60)");
      await waitFor("the promoted standby to accept writes", async () => {
        const [r] = await query<{ recovery: boolean }>(urlOf(standbyPort, "postgres"), "select pg_is_in_recovery() as recovery");
        return r?.recovery === false;
      }, 60_000, { everyMs: 50, retryErrors: true });
    },
    async stop() {
      await running.standby?.stop().catch(() => {});
      await pair.stopPrimary().catch(() => {});
      running.standby = running.primary = undefined;
      await rm(root, { recursive: true, force: true });
    },
  };
  return pair;
}

/**
 * The service's database on the pair's primary (replicated to the standby): created, migrated,
 * with an admin API key inserted the way the key service stores one. Returns the key.
 */
export async function createServiceDatabase(pair: PgPair, name: string): Promise<string> {
  await query(pair.primaryUrl(), `create database ${name}`);
  const { sql } = connect({ url: pair.primaryUrl(name), poolMax: 2, statementTimeoutMs: 60_000, applicationName: "linkfort-test-migrate" });
  try {
    await migrate(sql);
    const key = `lf_test${crypto.randomUUID().replaceAll("-", "")}`;
    await sql`insert into api_keys (name, prefix, hash, scope) values ('cluster admin', ${key.slice(0, 10)}, encode(sha256(convert_to(${key}, 'UTF8')), 'hex'), 'admin')`;
    return key;
  } finally {
    await sql.end();
  }
}
