/**
 * @module One drill: its own user and links, steady load through the public port, the phases
 * (before: `phaseMs` of load; during: from the fault's start until every instance is ready and
 * the faulted part answers; after: `phaseMs` more), then the data checks and the verdict.
 * Every wait has a deadline, and the load stops by itself.
 */
import type { Fault } from "./faults.ts";
import { startLoad, type LoadTargets, type Sample } from "./load.ts";
import { checkData } from "./checks.ts";
import { alertsOfFault } from "./alert-check.ts";
import { droppedClicks } from "./disk-fault.ts";
import { allPhases, failuresByKind, failuresByStatus, type DrillRow, type Recovery } from "./report.ts";
import { allInstancesReady, pollUntil, type Stack } from "./stack.ts";

export interface DrillOptions {
  stack: Stack;
  adminKey: string;
  /** Offered requests per second. */
  rate: number;
  /** Load before the fault and after recovery (ms). */
  phaseMs: number;
  /** How long a hang is held (ms). */
  holdMs: number;
  /** Every instance must be ready again within this (ms, default 60 s). */
  recoverTimeoutMs?: number;
  /** The spools must drain within this (ms, default 60 s). */
  drainTimeoutMs?: number;
}

/** Links made per drill: enough to spread redirects over every instance's cache. */
const LINKS = 10;

/** One CSV import of 5 to 20 new users every this many ms during the whole drill: a write of another shape than a create, at a low fixed rate. */
const IMPORT_EVERY_MS = 2_000;

async function post<T>(url: string, adminKey: string, body: unknown): Promise<T> {
  const res = await fetch(url, {
    method: "POST", headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: JSON.stringify(body), signal: AbortSignal.timeout(10_000),
  }).catch((error: Error) => { throw new Error(`drill setup: POST ${url} failed: ${error.message}`); });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`drill setup: POST ${new URL(url).pathname} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** A fresh user and LINKS links for this drill, through the public port, with the admin key. */
export async function setUpTargets(stack: Stack, adminKey: string, fault: string): Promise<LoadTargets> {
  const tag = `drill-${fault}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const user = await post<{ id: number }>(`${stack.publicUrl}/users`, adminKey, { username: tag, email: `${tag}@example.com` });
  const links: LoadTargets["links"] = [];
  for (let i = 0; i < LINKS; i++) {
    const url = await post<{ id: number; short_code: string }>(`${stack.publicUrl}/urls`, adminKey, { user_id: user.id, original_url: `https://example.com/${tag}/${i}` });
    links.push({ id: url.id, shortCode: url.short_code });
  }
  return { baseUrl: stack.publicUrl, adminKey, userId: user.id, links, tag };
}

function firstSuccessAfter(samples: readonly Sample[], t: number): number | null {
  let first: number | null = null;
  for (const s of samples) if (s.outcome === "ok" && s.sentAt >= t && (first === null || s.doneAt < first)) first = s.doneAt;
  return first === null ? null : Math.round(first - t);
}

export async function runDrill(fault: Fault, opts: DrillOptions): Promise<DrillRow> {
  const row: DrillRow = { fault: fault.name, promise: fault.promise, met: null, why: [] };
  const why = fault.unavailable(opts.stack);
  if (why) return { ...row, why: [`skipped: ${why}`] };
  if ((await pollUntil(() => allInstancesReady(opts.stack), 30_000, 200)) === null) return { ...row, why: ["not run: the instances were not all ready within 30 s"] };
  let targets: LoadTargets;
  try {
    targets = await setUpTargets(opts.stack, opts.adminKey, fault.name);
  } catch (error) {
    // A stack an earlier drill left broken (Caddy not back) fails this row, not the whole run.
    return { ...row, why: [`not run: ${error instanceof Error ? error.message : String(error)}`] };
  }
  // Read before the load starts and after the drain: the clicks the instances counted as not kept during this drill.
  const readDropped = () => (fault.dropsClicksFor ? droppedClicks(opts.stack, fault.dropsClicksFor).catch(() => undefined) : Promise.resolve(undefined));
  const droppedBefore = await readDropped();
  const recoverTimeoutMs = opts.recoverTimeoutMs ?? 60_000;
  const load = startLoad(targets, { rate: opts.rate, importEveryMs: IMPORT_EVERY_MS, maxMs: opts.phaseMs * 2 + opts.holdMs + recoverTimeoutMs + 240_000 });
  let recovery: Recovery;
  let faultStart = 0;
  // The supervisor's alerts carry its wall clock: the fault's bounds on the same clock.
  const faultWall = { start: 0, end: 0 };
  try {
    await Bun.sleep(opts.phaseMs);
    load.setPhase("during");
    const start = performance.now();
    faultStart = start;
    faultWall.start = Date.now();
    row.note = await fault.inject({ stack: opts.stack, holdMs: opts.holdMs });
    const end = performance.now();
    faultWall.end = Date.now();
    const readyAt = await pollUntil(async () => (await allInstancesReady(opts.stack)) && (await (fault.recovered?.(opts.stack) ?? true)), recoverTimeoutMs, 50);
    load.setPhase("after");
    await Bun.sleep(opts.phaseMs);
    recovery = { fault_ms: Math.round(end - start), first_success_ms: null, all_ready_ms: readyAt === null ? null : Math.round(readyAt - end) };
    recovery.first_success_ms = firstSuccessAfter(load.samples(), end);
  } catch (error) {
    await load.stop();
    return { ...row, why: [`failed: ${error instanceof Error ? error.message : String(error)}`] };
  }
  const { samples, skipped } = await load.stop();
  const phases = allPhases(samples);
  let data;
  try {
    data = await checkData(opts.stack, samples, targets.links.map((l) => l.id), { drainTimeoutMs: opts.drainTimeoutMs ?? 60_000 });
  } catch (error) {
    return { ...row, phases, recovery, why: [`data check failed: ${error instanceof Error ? error.message : String(error)}`] };
  }
  const failure_examples = samples.filter((s) => s.outcome !== "ok").slice(0, 8)
    .map((s) => `${s.phase} ${s.kind} ${s.status ?? "conn"} @${Math.round(s.sentAt - faultStart)}ms`);
  const droppedAfter = await readDropped();
  const done: DrillRow = { ...row, phases, skipped_requests: skipped, recovery, data, failure_examples, failures_by_kind: failuresByKind(samples), failures_by_status: failuresByStatus(samples) };
  if (droppedBefore !== undefined && droppedAfter !== undefined) done.clicks_dropped = droppedAfter - droppedBefore;
  if (fault.alerts) {
    const waitMs = Math.max(0, fault.alerts.resolveWithinMs(opts.stack) - (Date.now() - faultWall.end));
    const spans = await alertsOfFault(opts.stack, fault.alerts.key, faultWall.start, faultWall.end, waitMs);
    if (spans) done.alerts = spans.map((a) => ({ key: a.key, raised_ms: a.raisedAt - faultWall.start, resolved_ms: a.resolvedAt === null ? null : a.resolvedAt - faultWall.end }));
  }
  done.why = fault.judge(done);
  if (skipped > 0) done.why.push(`${skipped} requests not sent (load generator saturated)`);
  done.met = done.why.length === 0;
  return done;
}
