/**
 * A bounded load loop for chaos tests: `workers` concurrent GETs in a loop against one URL
 * until stop() or `maxMs`/`maxRequests`, counting every answer that is not 2xx/3xx and every
 * connection error. It stops by itself, so a failing test cannot leave it running.
 */

export interface LoadResult {
  requests: number;
  ok: number;
  /** Non-2xx/3xx statuses and errors, with the first few for the failure message. */
  failed: number;
  samples: string[];
}

export interface LoadLoop {
  /** The counts so far, while it runs (a copy). */
  progress(): LoadResult;
  stop(): Promise<LoadResult>;
}

export function startLoad(url: string, opts: { workers?: number; maxMs?: number; maxRequests?: number } = {}): LoadLoop {
  const deadline = Date.now() + (opts.maxMs ?? 30_000);
  const maxRequests = opts.maxRequests ?? 200_000;
  const result: LoadResult = { requests: 0, ok: 0, failed: 0, samples: [] };
  let stopped = false;
  const fail = (what: string) => {
    result.failed++;
    if (result.samples.length < 10) result.samples.push(`${new Date().toISOString()} ${what}`);
  };
  const worker = async () => {
    while (!stopped && Date.now() < deadline && result.requests < maxRequests) {
      result.requests++;
      try {
        const res = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        if (res.status >= 200 && res.status < 400) result.ok++;
        else fail(`HTTP ${res.status}`);
      } catch (error) {
        fail(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
      }
    }
  };
  const running = Promise.all(Array.from({ length: opts.workers ?? 6 }, worker));
  return {
    progress: () => ({ ...result, samples: result.samples.slice() }),
    async stop() {
      stopped = true;
      await running;
      return result;
    },
  };
}
