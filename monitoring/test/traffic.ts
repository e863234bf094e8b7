/**
 * What the live test does to the stack so every metric a panel or an alert watches exists:
 * ordinary API calls and redirects (each instance, every cache tier), a 404, a click nobody can
 * read, a killed instance, and a PostgreSQL outage (503s, a failed backup, clicks left pending).
 */
import { expect } from "bun:test";
import { appendFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { isReady } from "../../supervisor/test/processes.ts";
import { until } from "./daemons.ts";
import type { LinkfortStack } from "./stack.ts";

interface Answer { status: number; text: string; json: any }

async function call(port: number, method: string, path: string, key: string | null, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: "manual", signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  let json: unknown;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: res.status, text, json };
}

const metricsOf = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(5_000) })).text();

/**
 * API calls on one instance, then redirects of every link on every instance (LRU, Redis and
 * database hits), a 404 and some reads. `round` names the user it creates.
 */
export async function ordinaryTraffic(stack: LinkfortStack, round: string): Promise<string[]> {
  const [first] = stack.instancePorts;
  const key = stack.adminKey;
  // Right after an outage the first calls may still find the pool reconnecting.
  const user = await until("the API creating a user", async () => {
    const res = await call(first!, "POST", "/users", key, { username: `monitor-${round}`, email: `monitor-${round}@example.com` });
    return res.status === 503 ? undefined : res;
  }, 15_000, 200);
  expect(user.status, user.text).toBe(201);
  const codes: string[] = [];
  for (let i = 0; i < 3; i++) {
    const url = await call(first!, "POST", "/urls", key, { user_id: user.json.id, original_url: `https://monitoring.example/${i}` });
    expect(url.status, url.text).toBe(201);
    codes.push(url.json.short_code);
  }
  for (const port of stack.instancePorts) {
    for (const code of codes) {
      for (let i = 0; i < 3; i++) expect((await call(port, "GET", `/${code}`, null)).status).toBe(302);
    }
    const missing = await call(port, "GET", "/zz9zz9", null);
    expect(missing.status, missing.text).toBe(404);
    const list = await call(port, "GET", "/urls?per_page=5", key);
    expect(list.status, list.text).toBe(200);
  }
  return codes;
}

/** One spool line that is no click: its instance steps over it and counts it dropped ("unreadable"). */
export async function unreadableClick(stack: LinkfortStack): Promise<void> {
  const port = stack.instancePorts[0]!;
  const segments = readdirSync(join(stack.spoolRoot, String(port))).filter((name) => name.endsWith(".seg")).sort();
  // O_APPEND: the line lands whole after whatever the instance wrote last.
  appendFileSync(join(stack.spoolRoot, String(port), segments.at(-1)!), "not a click\n");
  await until("the instance counting the unreadable click", async () =>
    /linkfort_clicks_dropped_total\{reason="unreadable"\} [1-9]/.test(await metricsOf(`http://127.0.0.1:${port}/metrics`).catch(() => "")), 15_000);
}

/** kill -9 of one instance; the supervisor starts another on the same port. */
export async function killInstance(stack: LinkfortStack, port: number): Promise<void> {
  const before = stack.pidOf(port);
  process.kill(before, "SIGKILL");
  await until(`a new instance on ${port}`, async () => stack.pidOf(port) !== before && (await isReady(port)), 30_000);
}

/**
 * PostgreSQL away until the supervisor has counted a failed backup: API calls answer 503 and
 * redirects of cached links keep working (their clicks wait in the spools). Then it comes back.
 */
export async function databaseOutage(stack: LinkfortStack, codes: string[]): Promise<void> {
  await stack.proxy.stop();
  try {
    for (const port of stack.instancePorts) {
      for (let i = 0; i < 3; i++) {
        const res = await call(port, "GET", "/urls?per_page=5", stack.adminKey);
        expect(res.status, res.text).toBe(503);
        expect(res.json.error).toBe("Service Unavailable");
      }
      for (const code of codes) expect((await call(port, "GET", `/${code}`, null)).status).toBe(302);
    }
    await until("a failed backup on the supervisor's /metrics", async () =>
      /linkfort_supervisor_backup_failures_total\{stage="connect"\} [1-9]/.test(await metricsOf(`http://127.0.0.1:${stack.statusPort}/metrics`)), 20_000, 200);
  } finally {
    await stack.proxy.start();
  }
}

/** A backup that succeeded (size and duration set) on the supervisor's /metrics. */
export async function goodBackup(stack: LinkfortStack): Promise<void> {
  await until("a good backup on the supervisor's /metrics", async () =>
    /linkfort_supervisor_backup_last_size_bytes [1-9]/.test(await metricsOf(`http://127.0.0.1:${stack.statusPort}/metrics`)), 30_000, 200);
}
