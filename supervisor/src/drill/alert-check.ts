/**
 * @module Whether the supervisor alerted during a drill, from the alerts its /status lists
 * (`alerts.recent`: every raise it sent and every resolve, newest first): for a fault that must
 * alert (the disk-full drill: clicks-dropped), which of its alerts were up while the fault was held,
 * and when each was resolved. Read over HTTP, so it works from `linkfort-supervisor drill` and from
 * the console alike; times are the supervisor's wall clock, as the drill's own.
 */
import type { AlertSnapshot } from "../status/snapshot.ts";
import { readStatus, type Stack } from "./stack.ts";

/** One alert's time up: raised, and resolved (null: still up when read). Unix ms. */
export interface AlertSpan { key: string; raisedAt: number; resolvedAt: number | null }

/** The spans of the alerts whose key matches, oldest first; null when /status does not answer. */
export async function alertSpans(stack: Stack, key: RegExp): Promise<AlertSpan[] | null> {
  const status = await readStatus(stack);
  if (!status) return null;
  return spansOf(status.alerts.recent, key);
}

export function spansOf(recent: readonly AlertSnapshot[], key: RegExp): AlertSpan[] {
  const spans: AlertSpan[] = [];
  const up = new Map<string, AlertSpan>();
  for (const a of [...recent].reverse()) {
    if (!key.test(a.key)) continue;
    const at = Date.parse(a.at);
    const span = up.get(a.key);
    if (a.resolved) {
      if (span) { span.resolvedAt = at; up.delete(a.key); }
    } else if (!span) {
      const fresh = { key: a.key, raisedAt: at, resolvedAt: null };
      up.set(a.key, fresh);
      spans.push(fresh);
    }
  }
  return spans;
}

/** Spans that were up at some time between `from` and `to` (Unix ms). */
export const upBetween = (spans: readonly AlertSpan[], from: number, to: number) =>
  spans.filter((s) => s.raisedAt <= to && (s.resolvedAt === null || s.resolvedAt >= from));

/**
 * Polls /status until an alert matching `key` is up (raised, not resolved), at most `timeoutMs`;
 * returns how long it waited (ms), or null when none came up in time.
 */
export async function waitForAlertUp(stack: Stack, key: RegExp, timeoutMs: number): Promise<number | null> {
  const began = performance.now();
  while (performance.now() - began <= timeoutMs) {
    const spans = await alertSpans(stack, key);
    if (spans?.some((s) => s.resolvedAt === null)) return Math.round(performance.now() - began);
    await Bun.sleep(200);
  }
  return null;
}

/**
 * The alerts up during the fault (`from`..`to`), once each of them is resolved or `timeoutMs`
 * passed, whichever comes first; null when /status never answered.
 */
export async function alertsOfFault(stack: Stack, key: RegExp, from: number, to: number, timeoutMs: number): Promise<AlertSpan[] | null> {
  const deadline = performance.now() + timeoutMs;
  let spans: AlertSpan[] | null = null;
  for (;;) {
    const read = await alertSpans(stack, key);
    if (read) spans = upBetween(read, from, to);
    const settled = spans !== null && spans.every((s) => s.resolvedAt !== null);
    if (settled || performance.now() >= deadline) return spans;
    await Bun.sleep(500);
  }
}
