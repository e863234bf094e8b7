/**
 * @module Faults of PostgreSQL: the embedded server restarted or frozen, a table held locked,
 * every connection slot taken, the network path to it cut. Each is real: signals to the
 * postmaster (and its backends), a session holding a lock, sessions holding the slots, the
 * kernel dropping its packets (link-cut.ts).
 */
import postgres from "postgres";
import type { Fault } from "./faults.ts";
import { always, conn, failedRedirects, lost, serverErrorsBut503, within } from "./judging.ts";
import { childrenOf, postmasterPid } from "./pids.ts";
import { cutLink, cutRefusal } from "./link-cut.ts";
import { alive, pickInstance, pollUntil, readStatus, type Stack } from "./stack.ts";
import { parseDatabaseUrl } from "../../../service/src/lib/database-url.ts";

/** How long postgres-slow holds its lock: the "slow PostgreSQL" case (ms). */
const PG_SLOW_MS = 10_000;

/** How long postgres-freeze stops the server (ms): longer than the drill's 10 s client timeout. */
const PG_FREEZE_MS = 15_000;

/** How long postgres-connections-exhausted holds every free connection slot (ms). */
const PG_SLOTS_HELD_MS = 10_000;
// Bounds the slot grab whatever max_connections says: a drill never opens more.
const PG_SLOTS_MAX = 2_000;

/** Opens sessions into `held` until PostgreSQL refuses one for lack of slots (SQLSTATE class 53). */
async function takeEveryFreeSlot(url: string, held: postgres.Sql[]): Promise<void> {
  while (held.length < PG_SLOTS_MAX) {
    const session = postgres(url, { max: 1, connect_timeout: 5, idle_timeout: 0, onnotice: () => {} });
    try {
      await session`select 1`;
      held.push(session);
    } catch (error) {
      await session.end({ timeout: 1 }).catch(() => {});
      if (String((error as { code?: unknown }).code).startsWith("53")) return;
      throw error;
    }
  }
}

/** How long postgres-link-cut drops PostgreSQL's packets (ms): the "link cut for 20 s". */
const PG_LINK_CUT_MS = 20_000;
/**
 * After the link is back, every instance must query PostgreSQL again within this (ms). By design
 * at most about 4 s: a connection attempt in flight gets its next SYN retransmit (1 s, then 3 s
 * after it began) or its 5 s connect_timeout, then the pool's back-off (at most 1 s), then /health's
 * probe (cached 1 s). Measured 0.3 to 0.6 s (docs/RELIABILITY.md).
 */
const PG_LINK_BACK_MS = 5_000;

/** DATABASE_URL's TCP hosts, or why there is no network path to cut. */
function databaseEnds(url: string): { host: string; port: number }[] | string {
  let parsed;
  try { parsed = parseDatabaseUrl(url); } catch (error) { return `DATABASE_URL cannot be read: ${error instanceof Error ? error.message : String(error)}`; }
  const socketHost = parsed.params.get("host");
  if (parsed.hosts.length === 0 || parsed.hosts.some((h) => h.host.startsWith("/")) || socketHost?.startsWith("/")) {
    return "DATABASE_URL connects through a Unix socket: there is no network path to cut";
  }
  return parsed.hosts;
}

/** Every instance's own PostgreSQL probe (/health's `db`, a `select 1` through its pool) says ok. */
const everyInstanceQueriesPostgres = async (stack: Stack) => {
  const status = await readStatus(stack);
  if (!status || status.instances.length === 0) return false;
  const probes = await Promise.all(status.instances.map(async (i) => {
    const res = await fetch(stack.instanceUrl(i.port, "/health"), { signal: AbortSignal.timeout(2_000) }).catch(() => null);
    return ((await res?.json().catch(() => null)) as { db?: string } | null)?.db === "ok";
  }));
  return probes.every(Boolean);
};

const pgAnswers = (url: string) => async () => {
  const sql = postgres(url, { max: 1, connect_timeout: 1, idle_timeout: 1, onnotice: () => {} });
  try { await sql`select 1`; return true; } catch { return false; } finally { await sql.end({ timeout: 1 }).catch(() => {}); }
};

export const POSTGRES_FAULTS: Fault[] = [
  {
    name: "postgres-restart",
    promise: "every cached redirect served, writes fail fast (503), 0 acknowledged writes lost, 0 lost clicks, all ready within 5 s of PostgreSQL's return",
    unavailable: (s) => (s.embeddedPgDir ? null : "DATABASE_URL names an external PostgreSQL: restart it with its own tools (systemctl restart postgresql) while a drill holds load"),
    judge: (r) => [...failedRedirects(r), ...serverErrorsBut503(r), ...lost(r), ...within("all ready", r.recovery?.all_ready_ms, 5_000)],
    recovered: (s) => pgAnswers(s.databaseUrl)(),
    async inject({ stack }) {
      const pid = postmasterPid(stack.embeddedPgDir!);
      if (pid === null || !alive(pid)) throw new Error(`no running postmaster in ${stack.embeddedPgDir}`);
      process.kill(pid, "SIGINT"); // fast shutdown: every session ends, the server exits cleanly
      if ((await pollUntil(async () => !alive(pid), 30_000, 20)) === null) throw new Error(`postmaster ${pid} did not stop within 30 s`);
      const down = performance.now();
      if ((await pollUntil(pgAnswers(stack.databaseUrl), 60_000, 100)) === null) throw new Error("nothing started PostgreSQL again within 60 s");
      return `fast shutdown of the postmaster (pid ${pid}); the supervisor started it again, down ${Math.round(performance.now() - down)} ms`;
    },
  },
  {
    name: "postgres-slow",
    promise: "every cached redirect served, every request answered (503 at the latest at the statement timeout, never a hang), 0 acknowledged writes lost, 0 lost clicks",
    unavailable: always,
    judge: (r) => [...failedRedirects(r), ...serverErrorsBut503(r), ...(conn(r) > 0 ? [`${conn(r)} requests without an answer within 10 s`] : []), ...lost(r)],
    async inject({ stack }) {
      const sql = postgres(stack.databaseUrl, { max: 1, connect_timeout: 5, onnotice: () => {} });
      try {
        await sql.begin(async (tx) => {
          await tx`lock table urls in access exclusive mode`;
          await Bun.sleep(PG_SLOW_MS);
        });
      } finally {
        await sql.end({ timeout: 2 });
      }
      return `a session held ACCESS EXCLUSIVE on urls for ${PG_SLOW_MS / 1000} s (every read and write of links waits)`;
    },
  },
  {
    name: "postgres-connections-exhausted",
    promise: "every cached redirect served, every request answered (503 at worst, never a 500 or a hang), an instance restarted meanwhile ready within 7 s of the slots' release (its start retries with a back-off capped at 5 s), 0 acknowledged writes lost, 0 lost clicks",
    unavailable: always,
    judge: (r) => [
      ...failedRedirects(r), ...serverErrorsBut503(r), ...(conn(r) > 0 ? [`${conn(r)} requests without an answer within 10 s`] : []),
      ...within("all ready", r.recovery?.all_ready_ms, 7_000), ...lost(r),
    ],
    async inject({ stack }) {
      const held: postgres.Sql[] = [];
      let restarted = "";
      try {
        await takeEveryFreeSlot(stack.databaseUrl, held);
        // The pools' open connections keep working; what cannot get a slot is anything new: a
        // pool growing under load, and the instance killed here once it starts again. The slots
        // its death frees are taken too, every 100 ms, so nothing new gets one until the end.
        const { port, pid } = await pickInstance(stack);
        process.kill(pid, "SIGKILL");
        restarted = `; SIGKILL to the instance on ${port} (pid ${pid}) once they were taken, and every slot freed meanwhile taken too`;
        const end = performance.now() + PG_SLOTS_HELD_MS;
        while (performance.now() < end) {
          await takeEveryFreeSlot(stack.databaseUrl, held);
          await Bun.sleep(100);
        }
      } finally {
        await Promise.all(held.map((h) => h.end({ timeout: 1 }).catch(() => {})));
      }
      return `held every free connection slot (${held.length} at the end) for ${PG_SLOTS_HELD_MS / 1000} s${restarted}`;
    },
  },
  {
    name: "postgres-freeze",
    promise: "every cached redirect served, every request answered within 10 s (503 at worst), 0 acknowledged writes lost, 0 lost clicks",
    unavailable: (s) => (s.embeddedPgDir ? null : "DATABASE_URL names an external PostgreSQL: the drill can only stop the embedded server's processes"),
    judge: (r) => [...failedRedirects(r), ...serverErrorsBut503(r), ...(conn(r) > 0 ? [`${conn(r)} requests without an answer within 10 s`] : []), ...lost(r)],
    async inject({ stack }) {
      const pid = postmasterPid(stack.embeddedPgDir!);
      if (pid === null || !alive(pid)) throw new Error(`no running postmaster in ${stack.embeddedPgDir}`);
      // A server that accepts TCP but answers nothing: a paused VM, storage that stopped
      // answering, or (for sessions already open) a network cut. statement_timeout cannot fire in
      // a stopped process, so only the client side can bound the wait.
      const frozen = [pid, ...childrenOf(pid)];
      for (const p of frozen) process.kill(p, "SIGSTOP");
      try {
        await Bun.sleep(PG_FREEZE_MS);
      } finally {
        for (const p of frozen) { try { process.kill(p, "SIGCONT"); } catch { /* exited meanwhile */ } }
      }
      return `SIGSTOP to the postmaster (pid ${pid}) and its ${frozen.length - 1} processes for ${PG_FREEZE_MS / 1000} s, then SIGCONT`;
    },
  },
  {
    name: "postgres-link-cut",
    promise: `every cached redirect served, every request answered within 10 s (503 at worst), 0 acknowledged writes lost, 0 lost clicks, every instance querying PostgreSQL again within ${PG_LINK_BACK_MS / 1000} s of the link's return`,
    unavailable: (s) => { const ends = databaseEnds(s.databaseUrl); return typeof ends === "string" ? ends : cutRefusal(); },
    judge: (r) => [
      ...failedRedirects(r), ...serverErrorsBut503(r), ...(conn(r) > 0 ? [`${conn(r)} requests without an answer within 10 s`] : []),
      ...within("all querying PostgreSQL", r.recovery?.all_ready_ms, PG_LINK_BACK_MS), ...lost(r),
    ],
    recovered: everyInstanceQueriesPostgres,
    async inject({ stack }) {
      const ends = databaseEnds(stack.databaseUrl);
      if (typeof ends === "string") throw new Error(ends);
      // Packets dropped, not refused: open sessions hang (no FIN, no reset), new connections time out.
      const cut = await cutLink(ends, PG_LINK_CUT_MS);
      const stale = cut.staleTablesRemoved > 0 ? `; ${cut.staleTablesRemoved} table(s) of killed drills removed first` : "";
      return `nftables dropped every TCP packet to and from ${cut.cut.join(", ")} for ${PG_LINK_CUT_MS / 1000} s (a set element with a kernel timeout; the table deleted after): ${cut.droppedPackets} packets dropped${stale}`;
    },
  },
];
