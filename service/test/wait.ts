/**
 * Waiting in tests: for a condition, with a deadline, never for a fixed time. On a loaded
 * machine any fixed time is sometimes too short; a deadline only bounds how long a failure
 * takes to show. Every test folder waits with this one helper.
 *
 * A fixed sleep is right only where a test proves that something does NOT happen within a
 * window (a late duplicate alert, a second restart); such a sleep says so in a comment.
 */

export interface WaitOptions {
  /** Milliseconds between checks (default 25). */
  everyMs?: number;
  /**
   * Count a check that throws as "not yet" (a server still starting, a busy machine) instead of
   * failing at once; the timeout error then names the last throw. Default false.
   */
  retryErrors?: boolean;
}

/**
 * Polls `check` until it returns a value other than undefined, null or false, and returns that
 * value; after `timeoutMs` it throws an error naming `what`.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 10_000,
  opts: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (error) {
      if (!opts.retryErrors) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ""}`);
    }
    await Bun.sleep(opts.everyMs ?? 25);
  }
}

/**
 * Polls `measure` until `done(value)` holds or `timeoutMs` passes, and returns the last value
 * either way, for the test to assert on: a failure then shows what was measured, not a timeout.
 */
export async function settle<T>(measure: () => T | Promise<T>, done: (value: T) => boolean, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await measure();
    if (done(value) || Date.now() > deadline) return value;
    await Bun.sleep(everyMs);
  }
}
