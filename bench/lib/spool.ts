/**
 * The click spools' backlog, as each instance's /health reports it (`click_spool`). The shippers
 * may fall behind during a measurement; waiting for them before the next one keeps one
 * scenario's clicks from being shipped (and costing CPU) during another's, and the wait itself
 * says how far behind they were.
 */

class NoSpool extends Error {}

interface SpoolHealth {
  click_spool?: { bytes: number; unshipped_clicks: number | null; oldest_unshipped_age_seconds: number };
}

/** Clicks an instance has answered but not yet shipped; null until its shipper has read its position once. */
export async function unshippedClicks(base: string): Promise<number | null> {
  const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(5_000) });
  const body = (await res.json()) as SpoolHealth;
  if (!body.click_spool) throw new NoSpool(`${base}/health has no click_spool (a release before the click spool?)`);
  return body.click_spool.unshipped_clicks;
}

/**
 * Waits until every instance in `bases` has shipped its whole spool to PostgreSQL; resolves with
 * the seconds it took, and fails after `timeoutMs` naming what was still unshipped.
 */
export async function waitSpoolsDrained(bases: string[], timeoutMs = 300_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    // An instance too busy to answer in time counts as not drained; one without a spool fails at once.
    const backlog = await Promise.all(bases.map((b) => unshippedClicks(b).catch((e: unknown) => { if (e instanceof NoSpool) throw e; return null; })));
    if (backlog.every((n) => n === 0)) return (performance.now() - started) / 1000;
    if (performance.now() - started > timeoutMs) {
      const left = bases.map((b, i) => `${b}: ${backlog[i] ?? "unknown"}`).join(", ");
      throw new Error(`the click spools did not drain within ${timeoutMs / 1000} s (unshipped: ${left})`);
    }
    await Bun.sleep(100);
  }
}
