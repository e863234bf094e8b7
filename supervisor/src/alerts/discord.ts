/**
 * The Discord webhook client: one POST per message, classified into a value the delivery loop
 * acts on (sent, rate limited, retry later, rejected). It never throws and never sleeps; waiting
 * is the loop's job, so a stop can cut it short.
 */
import type { Severity } from "./alert.ts";

/** One message as the webhook shows it: a raised alert or its "resolved" follow-up. */
export interface OutgoingMessage {
  key: string;
  severity: Severity;
  title: string;
  detail: string;
  resolved: boolean;
  /** Unix ms when the condition was raised or resolved (shown as the embed's timestamp). */
  at: number;
}

export type SendResult =
  /** waitMs: pause asked for by X-RateLimit-Remaining: 0, so the next send avoids a 429. */
  | { kind: "sent"; status: number; waitMs: number }
  | { kind: "rate_limited"; status: 429; retryAfterMs: number }
  /** 5xx, timeout or network error: worth another try after a backoff. */
  | { kind: "retry"; status: number | null; error: string }
  /** 4xx other than 429 (bad URL, deleted webhook, payload refused): retrying cannot help. */
  | { kind: "rejected"; status: number; error: string };

export interface DiscordClientOptions {
  webhookUrl: string;
  userAgent: string;
  /** Longest wait for one request, headers and body (ms). */
  timeoutMs: number;
  fetch?: typeof fetch;
}

// Discord's embed colours: red, orange, blue; green for "resolved".
const COLOURS: Record<Severity | "resolved", number> = { critical: 0xe74c3c, warning: 0xf39c12, info: 0x3498db, resolved: 0x2ecc71 };
// Discord answers 400 to a title over 256 or a description over 4096 characters; a long
// detail must still arrive, so it is cut rather than refused.
const TITLE_MAX = 256;
const DESCRIPTION_MAX = 4096;
// A garbage or hostile retry_after must not park the queue for days.
const RETRY_AFTER_MAX_MS = 10 * 60_000;
const DEFAULT_RETRY_AFTER_MS = 1_000;

const cut = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

export function discordPayload(message: OutgoingMessage): Record<string, unknown> {
  const prefix = message.resolved ? "Resolved" : message.severity.toUpperCase();
  return {
    username: "linkfort-supervisor",
    // Alert text comes from errors and hostnames; it must never ping @everyone.
    allowed_mentions: { parse: [] },
    embeds: [{
      title: cut(`${prefix}: ${message.title}`, TITLE_MAX),
      description: cut(message.detail || "(no detail)", DESCRIPTION_MAX),
      color: COLOURS[message.resolved ? "resolved" : message.severity],
      timestamp: new Date(message.at).toISOString(),
      footer: { text: cut(message.key, 2048) },
    }],
  };
}

function seconds(value: unknown): number | undefined {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) && n >= 0 ? n : undefined;
}

/**
 * How long a 429 asks us to wait (ms). The JSON body's `retry_after` is exact (fractional
 * seconds); the `Retry-After` header is rounded, so it is only the fallback.
 */
export function retryAfterMs(headers: Headers, bodyText: string): number {
  let fromBody: number | undefined;
  try {
    fromBody = seconds((JSON.parse(bodyText) as { retry_after?: unknown }).retry_after);
  } catch { /* not JSON: use the header */ }
  const header = headers.get("retry-after");
  const fromDate = header && seconds(header) === undefined ? (Date.parse(header) - Date.now()) / 1000 : undefined;
  const secs = fromBody ?? seconds(header) ?? (fromDate !== undefined && fromDate > 0 ? fromDate : undefined);
  return secs === undefined ? DEFAULT_RETRY_AFTER_MS : Math.min(Math.ceil(secs * 1000), RETRY_AFTER_MAX_MS);
}

/** The pause Discord announces before the bucket refills, when this send used its last slot. */
function bucketWaitMs(headers: Headers): number {
  if (headers.get("x-ratelimit-remaining") !== "0") return 0;
  const reset = seconds(headers.get("x-ratelimit-reset-after"));
  return reset === undefined ? 0 : Math.min(Math.ceil(reset * 1000), RETRY_AFTER_MAX_MS);
}

// The webhook URL carries its token; nothing derived from it may reach a log line.
function describe(error: unknown, webhookUrl: string): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.split(webhookUrl).join("<webhook>").slice(0, 300);
}

export function createDiscordClient(opts: DiscordClientOptions) {
  const doFetch = opts.fetch ?? fetch;
  return {
    /** `signal` aborts the request early (supervisor stopping); the timeout applies anyway. */
    async send(message: OutgoingMessage, signal?: AbortSignal): Promise<SendResult> {
      const timeout = AbortSignal.timeout(opts.timeoutMs);
      try {
        const res = await doFetch(opts.webhookUrl, {
          method: "POST",
          headers: { "Content-Type": "application/json", "User-Agent": opts.userAgent },
          body: JSON.stringify(discordPayload(message)),
          signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
        });
        const text = await res.text();
        if (res.ok) return { kind: "sent", status: res.status, waitMs: bucketWaitMs(res.headers) };
        if (res.status === 429) return { kind: "rate_limited", status: 429, retryAfterMs: retryAfterMs(res.headers, text) };
        const error = `HTTP ${res.status}: ${text.slice(0, 200)}`;
        return res.status >= 500 ? { kind: "retry", status: res.status, error } : { kind: "rejected", status: res.status, error };
      } catch (error) {
        const timedOut = timeout.aborted && !signal?.aborted;
        return { kind: "retry", status: null, error: timedOut ? `timed out after ${opts.timeoutMs} ms` : describe(error, opts.webhookUrl) };
      }
    },
  };
}

export type DiscordClient = ReturnType<typeof createDiscordClient>;
