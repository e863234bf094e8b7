/**
 * For the limits tests: an app over a test database and a real Redis with the limiter on, a
 * clock the test moves, and requests that come from a chosen client IP (X-Forwarded-For, which
 * in-process requests may send because they count as loopback, a trusted proxy).
 */
import { createApp, type App } from "../app.ts";
import type { ServiceConfig } from "../config.ts";
import type { Deps } from "../deps.ts";
import { silentLogger } from "../lib/logger.ts";
import { buildRateLimits } from "./wire.ts";

/** Setup traffic (creating users and links) comes from here and is never limited. */
export const SETUP_IP = "192.0.2.250";

export const limitsConfig = (redisUrl: string, overrides: Partial<ServiceConfig> = {}): Partial<ServiceConfig> => ({
  redisUrl, rateLimits: true, rateLimitRedirects: 3, rateLimitReads: 3, rateLimitWrites: 3,
  rateLimitExempt: SETUP_IP, banSyncMs: 3_600_000, ...overrides,
});

export interface Clock { now: number }

/** A second app over the same deps, whose limiter reads `clock` (and `deps` overridden as given). */
export function clockedApp(deps: Deps, clock: Clock, overrides: Partial<Deps> = {}): App {
  const rateLimits = buildRateLimits(deps.config, { db: deps.db, redis: deps.redis, metrics: deps.metrics, logger: silentLogger }, () => clock.now);
  return createApp({ ...deps, rateLimits, ...overrides });
}

export interface Sent { status: number; headers: Headers; body: Record<string, unknown> | undefined; text: string }

export async function send(app: App, method: string, path: string, opts: { ip?: string; key?: string; body?: unknown } = {}): Promise<Sent> {
  const headers: Record<string, string> = {};
  if (opts.ip) headers["x-forwarded-for"] = opts.ip;
  if (opts.key) headers["authorization"] = `Bearer ${opts.key}`;
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  const res = await app.handle(new Request(`http://localhost${path}`, {
    method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  }));
  const text = await res.text();
  let body: Record<string, unknown> | undefined;
  try { body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined; } catch { body = undefined; }
  return { status: res.status, headers: res.headers, body, text };
}

export const describeSent = (r: Sent) => `${r.status} ${r.text.slice(0, 300)}`;

let counter = 0;
/** A new client address per call, so tests never share a budget by accident. */
export const freshIp = () => `198.51.100.${(++counter % 250) + 1}`;

/** A user and a link owned by it, created from the exempt setup address. */
export async function makeLink(app: App, adminKey: string): Promise<string> {
  const tag = crypto.randomUUID().slice(0, 8);
  const user = await send(app, "POST", "/users", { ip: SETUP_IP, key: adminKey, body: { username: `u${tag}`, email: `${tag}@example.com` } });
  const url = await send(app, "POST", "/urls", { ip: SETUP_IP, key: adminKey, body: { user_id: user.body?.id, original_url: "https://example.com/x" } });
  if (url.status !== 201) throw new Error(`link not created: ${describeSent(url)}`);
  return String(url.body?.short_code);
}
