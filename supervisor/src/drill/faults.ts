/**
 * @module The faults, each a real one (a signal, a restart through the daemon, a server stopped),
 * none simulated inside the service. `inject` resolves when the fault ends (the signal sent, the
 * hang released, the restarted part answering again); `judge` says which parts of its promise a
 * finished drill broke.
 */
import postgres from "postgres";
import { readControlToken } from "../status/control-token.ts";
import { pidListeningOn, postmasterPid } from "./pids.ts";
import { pauseRedis, restartRedis } from "./redis-fault.ts";
import { failedRequests, type DrillRow } from "./report.ts";
import { alive, pollUntil, readStatus, type Stack } from "./stack.ts";

export interface FaultContext {
  stack: Stack;
  /** How long a hang is held (ms). */
  holdMs: number;
}

export interface Fault {
  name: string;
  promise: string;
  /** Why this fault cannot run against this stack, or null when it can. */
  unavailable(stack: Stack): string | null;
  /** Applies the fault; resolves when it ends, with a note for the report. */
  inject(ctx: FaultContext): Promise<string | undefined>;
  /** What must hold again, beyond every instance ready, before the stack counts as recovered. */
  recovered?(stack: Stack): Promise<boolean>;
  judge(row: DrillRow): string[];
}

const lost = (row: DrillRow) => [
  ...(row.data && row.data.clicks_lost > 0 ? [`${row.data.clicks_lost} clicks lost`] : []),
  ...(row.data && row.data.creates_missing > 0 ? [`${row.data.creates_missing} acknowledged creates missing`] : []),
  ...(row.data && !row.data.drained ? ["spools not drained"] : []),
];
const noFailures = (row: DrillRow) => (failedRequests(row) > 0 ? [`${failedRequests(row)} failed requests`] : []);
const within = (what: string, ms: number | null | undefined, limit: number) => (ms === null || ms === undefined || ms > limit ? [`${what} ${ms ?? "never"} ms > ${limit} ms`] : []);
const always = () => null;
const conn = (row: DrillRow) => (row.phases ? row.phases.before.conn + row.phases.during.conn + row.phases.after.conn : 0);
const failedRedirects = (row: DrillRow) => {
  const n = row.phases ? row.phases.during.redirect_failures + row.phases.after.redirect_failures : 0;
  return n > 0 ? [`${n} failed redirects`] : [];
};
/** How long postgres-slow holds its lock: the issue's "slow PostgreSQL" case (ms). */
const PG_SLOW_MS = 10_000;

async function instancePids(stack: Stack): Promise<{ port: number; pid: number }[]> {
  const status = await readStatus(stack);
  if (!status) throw new Error(`the supervisor's status port does not answer (${stack.statusUrl})`);
  const running = status.instances.filter((i): i is typeof i & { pid: number } => i.pid !== null && alive(i.pid));
  if (running.length === 0) throw new Error("no instance is running");
  return running.map((i) => ({ port: i.port, pid: i.pid }));
}

const pick = async (stack: Stack) => {
  const all = await instancePids(stack);
  return all[Math.floor(all.length / 2)]!;
};

const pgAnswers = (url: string) => async () => {
  const sql = postgres(url, { max: 1, connect_timeout: 1, idle_timeout: 1, onnotice: () => {} });
  try { await sql`select 1`; return true; } catch { return false; } finally { await sql.end({ timeout: 1 }).catch(() => {}); }
};

const publicReady = (stack: Stack) => async () => {
  const res = await fetch(`${stack.publicUrl}/ready`, { signal: AbortSignal.timeout(1_000) }).catch(() => null);
  return res?.status === 200;
};

export const FAULTS: Fault[] = [
  {
    name: "instance-kill", promise: "0 failed requests, 0 lost clicks, 0 lost writes", unavailable: always, judge: (r) => [...noFailures(r), ...lost(r)],
    async inject({ stack }) {
      const { port, pid } = await pick(stack);
      process.kill(pid, "SIGKILL");
      return `SIGKILL to the instance on ${port} (pid ${pid})`;
    },
  },
  {
    name: "instance-hang", promise: "0 failed requests, 0 lost clicks, 0 lost writes", unavailable: always, judge: (r) => [...noFailures(r), ...lost(r)],
    async inject({ stack, holdMs }) {
      const { port, pid } = await pick(stack);
      process.kill(pid, "SIGSTOP");
      try { await Bun.sleep(holdMs); } finally { try { process.kill(pid, "SIGCONT"); } catch { /* replaced meanwhile */ } }
      return `SIGSTOP to the instance on ${port} (pid ${pid}) for ${holdMs} ms, then SIGCONT`;
    },
  },
  {
    name: "all-instances-kill", promise: "serving again within 3 s, 0 lost clicks, 0 lost writes", unavailable: always,
    judge: (r) => [...within("first success", r.recovery?.first_success_ms, 3_000), ...lost(r)],
    async inject({ stack }) {
      const all = await instancePids(stack);
      for (const { pid } of all) process.kill(pid, "SIGKILL");
      return `SIGKILL to ${all.length} instances at once`;
    },
  },
  {
    name: "rolling-restart", promise: "0 failed requests, 0 lost clicks, 0 lost writes", unavailable: always, judge: (r) => [...noFailures(r), ...lost(r)],
    async inject({ stack }) {
      const token = await readControlToken(stack.controlTokenFile);
      if (!token.ok) throw new Error(token.error);
      const res = await fetch(`${stack.statusUrl}/rolling-restart`, {
        method: "POST", headers: { authorization: `Bearer ${token.token}` }, signal: AbortSignal.timeout(180_000),
      });
      const body = (await res.json().catch(() => ({}))) as { ok?: boolean; detail?: string };
      if (!body.ok) throw new Error(`rolling restart failed: ${body.detail ?? `HTTP ${res.status}`}`);
      return `POST /rolling-restart: ${body.detail}`;
    },
  },
  {
    name: "postgres-restart",
    promise: "every cached redirect served, writes fail fast (503), 0 acknowledged writes lost, 0 lost clicks, all ready within 5 s of PostgreSQL's return",
    unavailable: (s) => (s.embeddedPgDir ? null : "DATABASE_URL names an external PostgreSQL: restart it with its own tools (systemctl restart postgresql) while a drill holds load"),
    judge: (r) => [...failedRedirects(r), ...lost(r), ...within("all ready", r.recovery?.all_ready_ms, 5_000)],
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
    name: "redis-restart", promise: "0 failed requests, 0 lost clicks, 0 lost writes",
    unavailable: (s) => (s.redisUrl ? null : "REDIS_URL is not set"),
    judge: (r) => [...noFailures(r), ...lost(r)],
    async inject({ stack }) {
      const r = await restartRedis(stack.redisUrl!);
      return `SIGKILL to redis-server (pid ${r.killedPid}); started again empty by ${r.restartedBy === "drill" ? "the drill" : "its service manager"} (pid ${r.pid})`;
    },
  },
  {
    name: "postgres-slow",
    promise: "every cached redirect served, every request answered (503 at the latest at the statement timeout, never a hang), 0 acknowledged writes lost, 0 lost clicks",
    unavailable: always,
    judge: (r) => [...failedRedirects(r), ...(conn(r) > 0 ? [`${conn(r)} requests without an answer within 10 s`] : []), ...lost(r)],
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
    name: "redis-hang", promise: "0 failed requests, 0 lost clicks, 0 lost writes",
    unavailable: (s) => (s.redisUrl ? null : "REDIS_URL is not set"),
    judge: (r) => [...noFailures(r), ...lost(r)],
    async inject({ stack, holdMs }) {
      await pauseRedis(stack.redisUrl!, holdMs);
      return `CLIENT PAUSE ${holdMs} ALL: Redis answered no client for ${holdMs} ms`;
    },
  },
  {
    name: "caddy-kill", promise: "serving again within 2 s, 0 lost clicks, 0 lost writes",
    unavailable: (s) => (pidListeningOn(s.publicPort) === null ? `nothing this user can see listens on the public port ${s.publicPort}` : null),
    judge: (r) => [...within("first success", r.recovery?.first_success_ms, 2_000), ...lost(r)],
    recovered: (s) => publicReady(s)(),
    async inject({ stack }) {
      const pid = pidListeningOn(stack.publicPort);
      if (pid === null) throw new Error(`nothing listens on the public port ${stack.publicPort}`);
      if ((await instancePids(stack)).some((i) => i.pid === pid)) throw new Error("no Caddy in front: the instances share the public port (SUPERVISOR_CADDY=off)");
      process.kill(pid, "SIGKILL");
      return `SIGKILL to caddy (pid ${pid}); the supervisor starts it again`;
    },
  },
];

export const faultNames = FAULTS.map((f) => f.name);
export const findFault = (name: string) => FAULTS.find((f) => f.name === name);
