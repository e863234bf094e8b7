/**
 * @module One readiness probe: GET /ready with its own timeout. A failed probe is a result,
 * never a throw: failing is what probes are for, and the watcher counts failures. A hung
 * instance (SIGSTOP, a busy loop) accepts the connection and never answers, so the timeout is
 * what turns it into a failure.
 */

export interface ProbeResult {
  ok: boolean;
  /** HTTP status, or null when no response came. */
  status: number | null;
  /** How long the probe took (ms). */
  ms: number;
  /** Why it failed; null when ok. */
  error: string | null;
}

// /ready answers a few dozen bytes; anything longer is not our instance.
const BODY_LIMIT = 4_096;

export async function probeReady(url: string, timeoutMs: number): Promise<ProbeResult> {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    const body = (await res.text()).slice(0, BODY_LIMIT);
    if (res.status === 200) return { ok: true, status: 200, ms: elapsed(), error: null };
    return { ok: false, status: res.status, ms: elapsed(), error: `/ready answered ${res.status} ${body.slice(0, 120)}`.trim() };
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    const reason = timedOut ? `no answer within ${timeoutMs} ms (hung?)` : error instanceof Error ? error.message : String(error);
    return { ok: false, status: null, ms: elapsed(), error: reason };
  }
}
