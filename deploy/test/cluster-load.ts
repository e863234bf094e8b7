/**
 * @module Steady load on the cluster's edge, run on the host over the bridge (the host has an
 * address on it): workers request one short link (302 + Location expected), and a writer creates a
 * link every `createEveryMs`. Every answer is recorded (status, times, for a create its short code),
 * so a drill counts failed requests, acknowledged writes (201) to look for after a failover, and
 * the clicks each 302 owes (each request names itself in its User-Agent: TAG-r<n>).
 *
 * In the test's own process: the host has two cores shared with six machines, and a second bun
 * would only compete with them; the recorded times are the host's clock, as the kill's are.
 */

export interface Answer {
  kind: "redirect" | "create";
  /** The User-Agent it sent (a redirect's clicked event keeps it). */
  agent: string;
  /** HTTP status; 0 when no answer came (connection error, 30 s timeout). */
  status: number;
  startMs: number;
  endMs: number;
  /** A created link's short code (201 only). */
  code?: string;
  /** What was wrong: the status line and body start, or the error. */
  problem?: string;
  /** The edge's X-Request-ID of a wrong answer: the app VMs log it, so it names the one that answered. */
  requestId?: string;
}

export interface LoadOptions {
  /** The edge, e.g. http://10.211.7.16:8080 */
  base: string;
  code: string;
  target: string;
  /** Letters and digits: names this load's requests. */
  tag: string;
  concurrency: number;
  adminKey: string;
  userId: number;
  createEveryMs: number;
}

export interface RunningLoad {
  answers: Answer[];
  /** Resolves at the first 302. */
  started: Promise<void>;
  /** Stops the workers and waits for the requests in flight. */
  stop(): Promise<Answer[]>;
}

/**
 * A client's patience: above the edge's worst case for a GET that was on a VM that lost power
 * (response_header_timeout 10 s, then another app VM), so only a request the edge gives up on fails.
 */
const TIMEOUT_MS = 30_000;

export function startLoad(opts: LoadOptions): RunningLoad {
  const answers: Answer[] = [];
  let stopped = false;
  let sent = 0;
  let markStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => { markStarted = resolve; });

  async function redirectWorker(): Promise<void> {
    while (!stopped) {
      const agent = `${opts.tag}-r${++sent}`;
      const startMs = Date.now();
      const answer: Answer = { kind: "redirect", agent, status: 0, startMs, endMs: 0 };
      try {
        const res = await fetch(`${opts.base}/${opts.code}`, { redirect: "manual", signal: AbortSignal.timeout(TIMEOUT_MS), headers: { "user-agent": agent } });
        const body = await res.text();
        answer.status = res.status;
        if (res.status === 302 && res.headers.get("location") === opts.target) markStarted();
        else {
          answer.problem = `${res.status} location=${res.headers.get("location")} ${body.slice(0, 200)}`;
          answer.requestId = res.headers.get("x-request-id") ?? undefined;
        }
      } catch (error) {
        answer.problem = error instanceof Error ? error.message : String(error);
      }
      answer.endMs = Date.now();
      answers.push(answer);
    }
  }

  async function createWorker(): Promise<void> {
    let n = 0;
    while (!stopped) {
      const agent = `${opts.tag}-w${++n}`;
      const startMs = Date.now();
      const answer: Answer = { kind: "create", agent, status: 0, startMs, endMs: 0 };
      try {
        const res = await fetch(`${opts.base}/urls`, {
          method: "POST", signal: AbortSignal.timeout(TIMEOUT_MS),
          headers: { "user-agent": agent, "content-type": "application/json", authorization: `Bearer ${opts.adminKey}` },
          body: JSON.stringify({ user_id: opts.userId, original_url: `https://example.com/${opts.tag}/${agent}` }),
        });
        const body = await res.text();
        answer.status = res.status;
        if (res.status === 201) answer.code = (JSON.parse(body) as { short_code: string }).short_code;
        else answer.problem = `${res.status} retry-after=${res.headers.get("retry-after")} ${body.slice(0, 200)}`;
      } catch (error) {
        answer.problem = error instanceof Error ? error.message : String(error);
      }
      answer.endMs = Date.now();
      answers.push(answer);
      const wait = opts.createEveryMs - (Date.now() - startMs);
      if (wait > 0 && !stopped) await Bun.sleep(wait); // the write rate, not a wait for a condition
    }
  }

  const workers = [...Array.from({ length: opts.concurrency }, redirectWorker), createWorker()];
  return {
    answers, started,
    async stop() {
      stopped = true;
      await Promise.all(workers);
      return answers;
    },
  };
}

/** Redirects that were not the expected 302 + Location (a failed request at the edge). */
export function failedRedirects(answers: readonly Answer[]): Answer[] {
  return answers.filter((a) => a.kind === "redirect" && a.problem !== undefined);
}

/**
 * Creates that failed other than as the service promises during a failover (503 with Retry-After:
 * the client knows to try again, nothing was acknowledged).
 */
export function failedCreates(answers: readonly Answer[], opts: { refusalsAllowed: boolean }): Answer[] {
  return answers.filter((a) => a.kind === "create" && a.status !== 201 && !(opts.refusalsAllowed && a.status === 503 && /retry-after=\d/.test(a.problem ?? "")));
}

/** A short account of one load, for the drill's table and failure messages. */
export function summarize(answers: readonly Answer[]): { redirects: number; redirectsFailed: number; creates: number; acknowledged: number; refused: number; samples: string[] } {
  const redirects = answers.filter((a) => a.kind === "redirect");
  const creates = answers.filter((a) => a.kind === "create");
  const failed = failedRedirects(answers);
  return {
    redirects: redirects.length, redirectsFailed: failed.length,
    creates: creates.length, acknowledged: creates.filter((a) => a.status === 201).length,
    refused: creates.filter((a) => a.status === 503).length,
    samples: [...failed, ...creates.filter((a) => a.status !== 201)].slice(0, 8).map((a) => `${a.agent} ${a.status} ${a.problem ?? ""}`),
  };
}
