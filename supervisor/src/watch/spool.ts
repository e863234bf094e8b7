/**
 * @module An instance's click spool backlog, as its /health reports it (`click_spool`): clicks on
 * its disk not yet in PostgreSQL. Read at most every few seconds by the watcher, for the status
 * page and `linkfort-supervisor status`; a failed read is "unknown" (null), never an error.
 */
import type { SpoolSnapshot } from "../status/snapshot.ts";

// /health answers a few hundred bytes; anything longer is not our instance.
const BODY_LIMIT = 8_192;

const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);

export async function readSpoolBacklog(healthUrl: string, timeoutMs: number): Promise<SpoolSnapshot | null> {
  try {
    const res = await fetch(healthUrl, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    const text = (await res.text()).slice(0, BODY_LIMIT);
    const spool = (JSON.parse(text) as { click_spool?: Record<string, unknown> }).click_spool;
    if (!spool) return null;
    const bytes = num(spool.bytes);
    const age = num(spool.oldest_unshipped_age_seconds);
    if (bytes === null || age === null) return null;
    return { bytes, unshipped_clicks: num(spool.unshipped_clicks), oldest_unshipped_age_seconds: age };
  } catch {
    return null;
  }
}
