/**
 * @module The faults, each a real one (a signal, a restart through the daemon, a server stopped),
 * none simulated inside the service. `inject` resolves when the fault ends (the signal sent, the
 * hang released, the restarted part answering again); `judge` says which parts of its promise a
 * finished drill broke.
 */
import { existsSync } from "node:fs";
import { adminOverSocket } from "../proxy/caddy.ts";
import { readControlToken } from "../status/control-token.ts";
import { CLICKS_DROPPED_DISK_FULL, clicksDroppedResolveWithinMs, fillSpoolDisk, refusal, spoolRootOf } from "./disk-fault.ts";
import { alertedThenResolved, always, countedDrops, lost, noFailures, redirectsServed, within } from "./judging.ts";
import { instanceOverMemoryLimit } from "./memory-fault.ts";
import { pidListeningOn, unitOf } from "./pids.ts";
import { POSTGRES_FAULTS } from "./postgres-faults.ts";
import { pauseRedis, restartRedis } from "./redis-fault.ts";
import type { DrillRow } from "./report.ts";
import { instancePids, pickInstance, pollUntil, readStatus, type Stack } from "./stack.ts";
import { upgradeToSameVersion } from "./upgrade-fault.ts";

export interface FaultContext {
  stack: Stack;
  /** How long a hang, a Redis pause or a full disk is held (ms). */
  holdMs: number;
}

export interface Fault {
  name: string;
  promise: string;
  /** Why this fault cannot run against this stack, or null when it can. */
  unavailable(stack: Stack): string | null;
  /** Applies the fault; resolves when it ends, with a note for the report. */
  inject(ctx: FaultContext): Promise<string | undefined>;
  /** The linkfort_clicks_dropped_total reason this fault is expected to raise: the drill reads it before and after (row.clicks_dropped). */
  dropsClicksFor?: string;
  /**
   * The supervisor alert this fault must raise while held and resolve after: its key, its name, and
   * how long after the fault's end to wait for the resolve. The drill reads /status for it (row.alerts).
   */
  alerts?: { key: RegExp; name: string; resolveWithinMs(stack: Stack): number };
  /** What must hold again, beyond every instance ready, before the stack counts as recovered. */
  recovered?(stack: Stack): Promise<boolean>;
  judge(row: DrillRow): string[];
}

const publicReady = (stack: Stack) => async () => {
  const res = await fetch(`${stack.publicUrl}/ready`, { signal: AbortSignal.timeout(1_000) }).catch(() => null);
  return res?.status === 200;
};

export const FAULTS: Fault[] = [
  {
    name: "instance-kill", promise: "0 failed requests, 0 lost clicks, 0 lost writes", unavailable: always, judge: (r) => [...noFailures(r), ...lost(r)],
    async inject({ stack }) {
      const { port, pid } = await pickInstance(stack);
      process.kill(pid, "SIGKILL");
      return `SIGKILL to the instance on ${port} (pid ${pid})`;
    },
  },
  {
    name: "instance-hang", promise: "0 failed requests, 0 lost clicks, 0 lost writes", unavailable: always, judge: (r) => [...noFailures(r), ...lost(r)],
    async inject({ stack, holdMs }) {
      const { port, pid } = await pickInstance(stack);
      process.kill(pid, "SIGSTOP");
      try { await Bun.sleep(holdMs); } finally { try { process.kill(pid, "SIGCONT"); } catch { /* replaced meanwhile */ } }
      return `SIGSTOP to the instance on ${port} (pid ${pid}) for ${holdMs} ms, then SIGCONT`;
    },
  },
  {
    name: "instance-memory", promise: "0 failed requests, 0 lost clicks, 0 lost writes", unavailable: always, judge: (r) => [...noFailures(r), ...lost(r)],
    inject: ({ stack }) => instanceOverMemoryLimit(stack),
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
    name: "instance-upgrade", promise: "0 failed requests, 0 lost clicks, 0 lost writes", unavailable: always, judge: (r) => [...noFailures(r), ...lost(r)],
    inject: ({ stack }) => upgradeToSameVersion(stack),
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
  ...POSTGRES_FAULTS,
  {
    name: "redis-hang", promise: "0 failed requests, 0 lost clicks, 0 lost writes",
    unavailable: (s) => (s.redisUrl ? null : "REDIS_URL is not set"),
    judge: (r) => [...noFailures(r), ...lost(r)],
    async inject({ stack, holdMs }) {
      return pauseRedis(stack.redisUrl!, holdMs);
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
      const unit = unitOf(pid);
      process.kill(pid, "SIGKILL");
      return `SIGKILL to caddy (pid ${pid}); ${unit ? `systemd starts ${unit} again (Restart=)` : "the supervisor starts it again"}`;
    },
  },
  {
    name: "caddy-reload", promise: "0 failed requests, 0 lost clicks, 0 lost writes",
    unavailable: (s) => (existsSync(s.caddyAdminSocket) ? null : `no Caddy admin socket this user can see at ${s.caddyAdminSocket} (nor /run/caddy/admin.sock; under systemd it needs root)`),
    judge: (r) => [...noFailures(r), ...lost(r)],
    recovered: (s) => publicReady(s)(),
    async inject({ stack }) {
      // The running config, loaded again; must-revalidate makes Caddy reload even though nothing changed (caddy reload --force).
      const current = await adminOverSocket(stack.caddyAdminSocket, "/config/", 2_000);
      const body = current.slice(current.indexOf("\r\n\r\n") + 4);
      if (!current.startsWith("HTTP/1.0 200") || !body.startsWith("{")) throw new Error(`Caddy's admin socket did not give its config: ${current.slice(0, 120)}`);
      const loaded = await adminOverSocket(stack.caddyAdminSocket, "/load", 10_000, { body, headers: { "Cache-Control": "must-revalidate" } });
      if (!loaded.startsWith("HTTP/1.0 200")) throw new Error(`Caddy refused its own config: ${loaded.slice(0, 200)}`);
      return "POST /load of Caddy's running config with Cache-Control: must-revalidate (a forced graceful reload)";
    },
  },
  {
    name: "disk-full",
    promise: "redirects 0 failed, every click not kept counted (linkfort_clicks_dropped_total{reason=\"disk_full\"}), the supervisor's clicks-dropped alert raised while the disk is full and resolved after, 0 acknowledged writes lost",
    unavailable: (s) => {
      const root = spoolRootOf(s);
      return root === null ? `no instance's click spool this user can see under ${s.spoolRoots.join(" or ")} (CLICK_SPOOL_DIR as the instances have it)` : refusal(root);
    },
    dropsClicksFor: "disk_full",
    alerts: { key: CLICKS_DROPPED_DISK_FULL, name: "clicks-dropped (disk_full)", resolveWithinMs: clicksDroppedResolveWithinMs },
    judge: (r) => [...redirectsServed(r), ...countedDrops(r), ...alertedThenResolved("clicks-dropped (disk_full)")(r)],
    inject: ({ stack, holdMs }) => fillSpoolDisk(stack, holdMs),
  },
  {
    name: "supervisor-kill",
    promise: "0 failed requests (instances and Caddy serve without the supervisor), the supervisor started again by systemd, 0 lost clicks, 0 lost writes",
    unavailable: (s) => {
      const pid = pidListeningOn(Number(new URL(s.statusUrl).port));
      if (pid === null) return `nothing this user can see listens on the status port (${s.statusUrl})`;
      // The quick start's supervisor is the parent of the whole stack: its instances stop when it
      // dies (their stdin closes), and nothing starts it again. Under systemd each part is a unit.
      return unitOf(pid) === "linkfort-supervisor.service" ? null : "the supervisor does not run under systemd (deploy/install.sh): killing it stops the quick start's whole stack and nothing starts it again";
    },
    judge: (r) => [...noFailures(r), ...lost(r)],
    recovered: async (s) => (await readStatus(s)) !== null,
    async inject({ stack }) {
      const pid = pidListeningOn(Number(new URL(stack.statusUrl).port));
      if (pid === null) throw new Error("the supervisor's status port does not answer");
      process.kill(pid, "SIGKILL");
      const back = await pollUntil(async () => { const now = pidListeningOn(Number(new URL(stack.statusUrl).port)); return now !== null && now !== pid && (await readStatus(stack)) !== null; }, 60_000, 200);
      if (back === null) throw new Error("the supervisor did not come back within 60 s");
      return `SIGKILL to the supervisor (pid ${pid}); systemd started it again`;
    },
  },
];

export const faultNames = FAULTS.map((f) => f.name);
export const findFault = (name: string) => FAULTS.find((f) => f.name === name);
