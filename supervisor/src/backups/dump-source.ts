/**
 * @module Which server a backup round dumps from. In a cluster (DATABASE_URL names several hosts)
 * the dump reads a hot standby when one is healthy, so a long pg_dump puts no load on the primary;
 * otherwise it reads the primary, as on a single VM. The round's advisory lock stays on the primary
 * either way (lock.ts): a standby's advisory locks are local to it and would not exclude anyone.
 *
 * Every host is asked over a connection of its own (not target_session_attrs=prefer-standby, which
 * takes the first standby it meets even when that one is stuck and another is fine). A standby is
 * healthy when:
 *   - it is in recovery and a copy of the same cluster as the primary (same system identifier);
 *   - its replay is not paused;
 *   - hot_standby_feedback is on (or max_standby_streaming_delay is -1): measured on PostgreSQL 15,
 *     without it a vacuum of rows the dump's snapshot still sees cancels the dump after
 *     max_standby_streaming_delay (30 s by default), and on a busy primary that is every long dump;
 *   - within MAX_REPLAY_LAG_MS it has replayed all the WAL the primary had written when the round
 *     began. So the dump holds every write acknowledged before the round, as a dump of the primary
 *     taken at most that much later would; a standby that cannot get there is too far behind.
 * Its WAL receiver's state (pg_stat_wal_receiver) is not read: PostgreSQL shows it only to roles
 * with pg_read_all_stats, and replaying up to the primary's position proves the stream anyway.
 */
import { formatDatabaseUrl, parseDatabaseUrl, type DatabaseHost } from "../../../service/src/lib/database-url.ts";
import type { BackupSource } from "./backup-files.ts";
import { closeSession, openSession, type Session } from "./connection.ts";

/** A standby must replay up to the primary's WAL position at the round's start within this long. */
export const MAX_REPLAY_LAG_MS = 30_000;
const POLL_MS = 250;

/** Where to dump from; `server` is every host of the URL when the primary could not be told apart. */
export interface DumpSource extends BackupSource {
  /** A URL for exactly that server (snapshot session and pg_dump must reach the same one). */
  url: string;
}

export interface SourceChoice {
  chosen: DumpSource;
  /** The primary, to fall back on when the dump from a standby fails; null when `chosen` is it. */
  primary: DumpSource | null;
}

/** What the lock session (on the primary) knows at the round's start. */
export interface PrimaryPosition {
  systemId: string;
  /** pg_current_wal_lsn() at the round's start. */
  walLsn: string;
}

export const describeHost = ({ host, port }: DatabaseHost) => `${host.includes(":") ? `[${host}]` : host}:${port}`;

/** The URL of one host of `url`, without target_session_attrs (that host, whatever its role). */
export function urlForHost(url: string, host: DatabaseHost): string {
  const parsed = parseDatabaseUrl(url);
  const params = new URLSearchParams(parsed.params);
  params.delete("target_session_attrs");
  return formatDatabaseUrl({ ...parsed, hosts: [host], params });
}

/**
 * `url` narrowed to the host that is the primary now, for libpq tools that write (pg_restore, psql).
 * libpq's own target_session_attrs=read-write is not enough there: it gives up, instead of trying
 * the next host, when a server refuses the connection itself, as a standby does for a database
 * created a moment ago on the primary and not replayed yet (a restore's new database). The URL
 * unchanged when it names one host or when no host says it is the primary.
 */
export async function primaryHostUrl(url: string): Promise<string> {
  const hosts = parseDatabaseUrl(url).hosts;
  if (hosts.length === 1) return url;
  const roles = await Promise.all(hosts.map(async (host) => {
    const session = openSession(urlForHost(url, host), "linkfort-restore");
    try {
      const [row] = await session<{ in_recovery: boolean }[]>`select pg_is_in_recovery() as in_recovery`;
      return row?.in_recovery === false;
    } catch {
      return false;
    } finally {
      await closeSession(session);
    }
  }));
  const index = roles.indexOf(true);
  return index === -1 ? url : urlForHost(url, hosts[index]!);
}

/** The lock session's view of the primary: its identity and its WAL position now. */
export async function primaryPosition(lockSession: Session): Promise<PrimaryPosition> {
  const [row] = await lockSession<{ system_id: string; lsn: string }[]>`
    select (select system_identifier from pg_control_system())::text as system_id, pg_current_wal_lsn()::text as lsn`;
  return { systemId: row!.system_id, walLsn: row!.lsn };
}

interface Probe {
  host: DatabaseHost;
  url: string;
  session: Session;
  inRecovery: boolean;
  systemId: string;
  paused: boolean;
  feedbackOn: boolean;
}

type ProbeResult = Probe | { host: DatabaseHost; error: string };

async function probe(url: string, host: DatabaseHost): Promise<ProbeResult> {
  const hostUrl = urlForHost(url, host);
  const session = openSession(hostUrl, "linkfort-backup-probe");
  try {
    const [row] = await session<{ in_recovery: boolean; system_id: string; pause: string | null; feedback: string; delay: string }[]>`
      select pg_is_in_recovery() as in_recovery,
        (select system_identifier from pg_control_system())::text as system_id,
        case when pg_is_in_recovery() then pg_get_wal_replay_pause_state() end as pause,
        current_setting('hot_standby_feedback') as feedback,
        current_setting('max_standby_streaming_delay') as delay`;
    return {
      host, url: hostUrl, session, inRecovery: row!.in_recovery, systemId: row!.system_id,
      paused: row!.pause !== null && row!.pause !== "not paused",
      feedbackOn: row!.feedback === "on" || row!.delay === "-1",
    };
  } catch (err) {
    await closeSession(session);
    const e = err as { code?: string; message?: string };
    return { host, error: [e.code, e.message].filter(Boolean).join(": ") || String(err) };
  }
}

/** Polls the standbys until one has replayed `lsn` (the first of them in URL order) or the time is up. */
async function firstCaughtUp(standbys: Probe[], lsn: string, maxLagMs: number, signal?: AbortSignal): Promise<{ standby: Probe; ms: number } | { behind: Map<Probe, string> }> {
  const started = performance.now();
  const behind = new Map<Probe, string>();
  for (;;) {
    for (const standby of standbys) {
      try {
        const [row] = await standby.session<{ caught_up: boolean; replayed: string }[]>`
          select pg_last_wal_replay_lsn() >= ${lsn}::pg_lsn as caught_up, pg_last_wal_replay_lsn()::text as replayed`;
        if (row!.caught_up) return { standby, ms: performance.now() - started };
        behind.set(standby, `had replayed only to ${row!.replayed} of ${lsn} after ${(maxLagMs / 1000).toFixed(0)} s`);
      } catch (err) {
        behind.set(standby, `stopped answering (${(err as Error).message})`);
      }
    }
    if (performance.now() - started >= maxLagMs || signal?.aborted) return { behind };
    await Bun.sleep(POLL_MS);
  }
}

export interface ChooseInput {
  databaseUrl: string;
  /** Asked only for a cluster URL: a one-server install reads nothing new (primaryPosition). */
  readPrimary: () => Promise<PrimaryPosition>;
  maxReplayLagMs?: number;
  signal?: AbortSignal;
}

/** A healthy standby of the URL's cluster, else the primary; throws only what readPrimary throws. */
export async function chooseDumpSource(input: ChooseInput): Promise<SourceChoice> {
  const { databaseUrl } = input;
  const hosts = parseDatabaseUrl(databaseUrl).hosts;
  if (hosts.length === 1) {
    const server = describeHost(hosts[0]!);
    return { chosen: { server, role: "primary", url: databaseUrl, reason: `DATABASE_URL names one server (${server})` }, primary: null };
  }
  const position = await input.readPrimary();
  const probes = await Promise.all(hosts.map((host) => probe(databaseUrl, host)));
  try {
    const reasons: string[] = [];
    const reached = probes.filter((p): p is Probe => {
      if ("error" in p) reasons.push(`${describeHost(p.host)} unreachable (${p.error})`);
      return !("error" in p);
    });
    const ours = reached.filter((p) => {
      if (p.systemId !== position.systemId) reasons.push(`${describeHost(p.host)} is another cluster (system identifier ${p.systemId})`);
      return p.systemId === position.systemId;
    });
    const found = ours.find((p) => !p.inRecovery);
    const primary: DumpSource = found
      ? { server: describeHost(found.host), role: "primary", url: found.url, reason: "" }
      // Not told apart (e.g. it answered the lock but not the probe): the URL's own rules reach it.
      : { server: hosts.map(describeHost).join(","), role: "primary", url: databaseUrl, reason: "" };
    const candidates = ours.filter((p) => {
      if (!p.inRecovery) return false;
      if (p.paused) reasons.push(`standby ${describeHost(p.host)} has its replay paused`);
      else if (!p.feedbackOn) reasons.push(`standby ${describeHost(p.host)} has hot_standby_feedback off (vacuum on the primary would cancel a long dump)`);
      return !p.paused && p.feedbackOn;
    });
    const maxLag = input.maxReplayLagMs ?? MAX_REPLAY_LAG_MS;
    if (candidates.length > 0) {
      const caught = await firstCaughtUp(candidates, position.walLsn, maxLag, input.signal);
      if ("standby" in caught) {
        const server = describeHost(caught.standby.host);
        return {
          chosen: { server, role: "standby", url: caught.standby.url, reason: `standby ${server} replayed the primary's WAL up to ${position.walLsn} in ${(caught.ms / 1000).toFixed(1)} s` },
          primary,
        };
      }
      for (const [standby, why] of caught.behind) reasons.push(`standby ${describeHost(standby.host)} ${why}`);
    }
    if (reasons.length === 0) reasons.push("no host of DATABASE_URL is a standby");
    return { chosen: { ...primary, reason: `no healthy standby: ${reasons.join("; ")}` }, primary: null };
  } finally {
    await Promise.all(probes.map((p) => ("session" in p ? closeSession(p.session) : undefined)));
  }
}
