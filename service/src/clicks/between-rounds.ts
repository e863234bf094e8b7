/**
 * A chore the consumer loop runs between its rounds, at most once per `everyMs` (the backlog
 * gauges, the stream trim). `runOnce` runs it now and restarts the wait; `maybeRun` runs it only
 * when the wait is over.
 */
export function betweenRounds<T>(run: () => Promise<T>, everyMs: number, now: () => number) {
  let lastAt = -Infinity;
  const runOnce = (): Promise<T> => {
    lastAt = now();
    return run();
  };
  return {
    runOnce,
    async maybeRun(): Promise<void> {
      if (now() - lastAt >= everyMs) await runOnce();
    },
  };
}
