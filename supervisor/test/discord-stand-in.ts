/**
 * A local HTTP server standing in for a Discord webhook, on 127.0.0.1 and a free port. It
 * records every request and answers like Discord (204 on success), or as told: 429 with
 * `retry_after`, any other status, or never (hang) for the next N requests.
 *
 *   const discord = createDiscordStandIn();
 *   await discord.start();
 *   // DISCORD_WEBHOOK_URL = discord.url
 *   discord.failNext(429, 1, 0.5);            // next request: 429, retry_after 0.5 s
 *   const [first, second] = await discord.waitFor(2, 5_000);
 *   expect(second.at - first.at).toBeGreaterThanOrEqual(500);
 *   await discord.stop();
 */
import type { Server } from "bun";

export interface ReceivedRequest {
  /** Date.now() when the request arrived (ms). */
  at: number;
  method: string;
  /** Path and query, e.g. "/api/webhooks/1/token". */
  path: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** The JSON body parsed, or null when it was not JSON (see `text`). */
  body: unknown;
  text: string;
  /** What the stand-in answered: a status, or "hang". */
  answer: number | "hang";
}

export interface DiscordStandIn {
  /** Binds 127.0.0.1 on a free port. */
  start(): Promise<void>;
  /** The webhook URL to configure; valid after start(). */
  readonly url: string;
  /** Every request so far, oldest first. */
  readonly received: readonly ReceivedRequest[];
  /** Resolves with the requests once at least n arrived; rejects after timeoutMs. */
  waitFor(n: number, timeoutMs: number): Promise<ReceivedRequest[]>;
  /**
   * The next `count` requests get `status` (429 sends `retry_after` seconds, default 1, in the
   * body and rounded up in Retry-After), or hang until stop()/release(). Calls queue up in order.
   */
  failNext(status: number | "hang", count: number, retryAfter?: number): void;
  /**
   * Acts like Discord's per-webhook bucket from now on: `limit` requests per `windowSeconds`,
   * announced in X-RateLimit-Remaining / X-RateLimit-Reset-After; one more within the window is
   * a 429. failNext() plans still come first.
   */
  rateLimit(limit: number, windowSeconds: number): void;
  /** Answers every hanging request (with 503) and stops hanging later ones. */
  release(): void;
  /** Forgets recorded requests and queued failures. */
  reset(): void;
  /** Releases hanging requests and closes the server. */
  stop(): Promise<void>;
}

interface Plan { status: number | "hang"; count: number; retryAfter: number }
interface Bucket { limit: number; windowMs: number; used: number; resetAt: number }

const WEBHOOK_PATH = "/api/webhooks/123456789/stand-in-token";

export function createDiscordStandIn(): DiscordStandIn {
  let server: Server<undefined> | undefined;
  const received: ReceivedRequest[] = [];
  let plans: Plan[] = [];
  let hanging: (() => void)[] = [];
  let waiters: (() => void)[] = [];
  let bucket: Bucket | undefined;

  /** The bucket's verdict for a request at `at`: a 429 plan when it is empty, else its headers. */
  function takeFromBucket(at: number): { plan?: Plan; headers: Record<string, string> } {
    if (!bucket) return { headers: {} };
    if (at >= bucket.resetAt) Object.assign(bucket, { used: 0, resetAt: at + bucket.windowMs });
    const resetAfter = String((bucket.resetAt - at) / 1000);
    if (bucket.used >= bucket.limit) return { plan: { status: 429, count: 1, retryAfter: (bucket.resetAt - at) / 1000 }, headers: {} };
    bucket.used++;
    return { headers: { "X-RateLimit-Limit": String(bucket.limit), "X-RateLimit-Remaining": String(bucket.limit - bucket.used), "X-RateLimit-Reset-After": resetAfter } };
  }

  function nextAnswer(): Plan | undefined {
    const plan = plans[0];
    if (!plan) return undefined;
    if (--plan.count <= 0) plans.shift();
    return plan;
  }

  function respond(plan: Plan | undefined, headers: Record<string, string>): Response | Promise<Response> {
    if (!plan) return new Response(null, { status: 204, headers });
    if (plan.status === "hang") {
      return new Promise((resolve) => hanging.push(() => resolve(new Response("released", { status: 503 }))));
    }
    if (plan.status === 429) {
      return Response.json(
        { message: "You are being rate limited.", retry_after: plan.retryAfter, global: false },
        { status: 429, headers: { "Retry-After": String(Math.ceil(plan.retryAfter)), "X-RateLimit-Scope": "shared" } },
      );
    }
    return Response.json({ message: `stand-in answered ${plan.status}`, code: 0 }, { status: plan.status });
  }

  async function handle(req: Request): Promise<Response> {
    const at = Date.now();
    const text = await req.text();
    let body: unknown = null;
    try { body = JSON.parse(text); } catch { /* kept as text */ }
    const planned = nextAnswer();
    const limited = planned ? { headers: {} } : takeFromBucket(at);
    const plan = planned ?? limited.plan;
    const url = new URL(req.url);
    received.push({ at, method: req.method, path: url.pathname + url.search, headers: Object.fromEntries(req.headers), body, text, answer: plan?.status ?? 204 });
    for (const wake of waiters) wake();
    return respond(plan, limited.headers);
  }

  const release = () => {
    for (const answer of hanging) answer();
    hanging = [];
    plans = plans.filter((p) => p.status !== "hang");
  };

  return {
    async start() {
      // idleTimeout 0: a "hang" must last until released, not Bun's default 10 s.
      server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 0, fetch: handle });
    },
    get url() {
      if (!server) throw new Error("discord stand-in: call start() first");
      return `http://127.0.0.1:${server.port}${WEBHOOK_PATH}`;
    },
    received,
    waitFor(n, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (received.length < n) return;
          clearTimeout(timer);
          waiters = waiters.filter((w) => w !== check);
          resolve(received.slice());
        };
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== check);
          reject(new Error(`discord stand-in: ${received.length} of ${n} requests within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(check);
        check();
      });
    },
    failNext(status, count, retryAfter = 1) {
      if (count > 0) plans.push({ status, count, retryAfter });
    },
    rateLimit(limit, windowSeconds) {
      bucket = { limit, windowMs: windowSeconds * 1000, used: 0, resetAt: 0 };
    },
    release,
    reset() {
      received.length = 0;
      plans = [];
      bucket = undefined;
    },
    async stop() {
      release();
      await server?.stop(true);
      server = undefined;
    },
  };
}
