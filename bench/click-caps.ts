#!/usr/bin/env bun
/**
 * What a click cap (max_clicks) costs a link's redirects: its own stack (embedded PostgreSQL or
 * DATABASE_URL, linkfort instances from source, no Redis), one link without a cap and one with a
 * cap it never reaches, then interleaved rounds of the same load on each, round-robin over the
 * instances. A capped click waits for its claim in PostgreSQL (clicks/caps.ts); an uncapped one
 * does not: the ratio of the two in one round is the finding, the absolute numbers are this
 * machine's moment.
 *
 *   bun bench/click-caps.ts [--instances 3] [--requests 5000] [--clients 32] [--rounds 3]
 */
import { installExitHooks, runScript } from "./lib/procs.ts";
import * as stack from "./lib/stack.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const n = i < 0 ? NaN : Number(process.argv[i + 1]);
  return Number.isInteger(n) && n > 0 ? n : fallback;
};
const INSTANCES = arg("instances", 3);
const REQUESTS = arg("requests", 5_000);
const CLIENTS = arg("clients", 32);
const ROUNDS = arg("rounds", 3);
const log = (line: string) => console.log(`[click-caps] ${line}`);

async function load(bases: string[], code: string): Promise<{ perSecond: number; redirects: number }> {
  let next = 0;
  let redirects = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (next < REQUESTS) {
      const base = bases[next++ % bases.length]!;
      const res = await fetch(`${base}/${code}`, { redirect: "manual" });
      await res.arrayBuffer();
      if (res.status === 302) redirects++;
    }
  }));
  return { perSecond: REQUESTS / ((performance.now() - started) / 1000), redirects };
}

async function main(): Promise<void> {
  installExitHooks();
  const dir = await stack.workDir();
  const env = { DATABASE_URL: await stack.startPostgres(dir), RATE_LIMITS: "false", LOG_LEVEL: "warn" };
  const cmd = await stack.buildLinkfort(dir, true);
  await stack.linkfortCli(cmd, ["migrate"], env);
  const key = await stack.adminKey(cmd, env);
  const { ports } = await stack.startInstances(cmd, INSTANCES, env);
  const bases = ports.map((p) => `http://127.0.0.1:${p}`);
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const post = async (path: string, body: unknown) => (await fetch(`${bases[0]}${path}`, { method: "POST", headers, body: JSON.stringify(body) })).json() as Promise<Record<string, unknown>>;
  const user = await post("/users", { username: `caps${Date.now()}`, email: `caps${Date.now()}@example.com` });
  const plain = String((await post("/urls", { user_id: user.id, original_url: "https://plain.example/" })).short_code);
  const capped = String((await post("/urls", { user_id: user.id, original_url: "https://capped.example/", max_clicks: Number.MAX_SAFE_INTEGER })).short_code);
  log(`${INSTANCES} instances, ${CLIENTS} clients, ${REQUESTS} requests per measurement`);
  await load(bases, plain);
  await load(bases, capped);
  for (let round = 1; round <= ROUNDS; round++) {
    const a = await load(bases, plain);
    const b = await load(bases, capped);
    if (a.redirects !== REQUESTS || b.redirects !== REQUESTS) throw new Error(`not every request redirected: ${a.redirects}, ${b.redirects}`);
    log(`round ${round}: uncapped ${a.perSecond.toFixed(0)}/s, capped ${b.perSecond.toFixed(0)}/s, capped ÷ uncapped ${(b.perSecond / a.perSecond).toFixed(2)}`);
  }
}

await runScript(main, log);
