#!/usr/bin/env bun
/**
 * What issue #18's link options cost a cached redirect's own code, in process: the service's
 * follow() over a trusted LRU hit plus answer.ts's response, for a plain link, a link with an
 * expiry (judged on every answer) and a link that forwards a query. No network, no spool (the
 * click sink keeps nothing), so what it shows is the options' code and nothing else; what a
 * browser's user agent costs the click pipeline is in bench/run.ts's redirect-hot-options.
 * Blocks of the variants alternate, so drift on a shared machine hits them alike.
 *
 *   bun bench/redirect-options.ts [--ops 200000] [--blocks 15]
 */
import { parseArgs } from "./generate.ts";
import { createGate } from "../service/src/cache/invalidation.ts";
import { createLru } from "../service/src/cache/lru.ts";
import { createRedisTier } from "../service/src/cache/redis-tier.ts";
import { createMetrics } from "../service/src/metrics.ts";
import { redirectAnswer } from "../service/src/redirect/answer.ts";
import { createLookup } from "../service/src/redirect/lookup.ts";
import type { Lookup } from "../service/src/redirect/model.ts";
import { createRedirectService } from "../service/src/redirect/service.ts";

const args = parseArgs(process.argv.slice(2));
const ops = Number(args.get("ops") ?? 200_000);
const blocks = Number(args.get("blocks") ?? 15);

const links: Record<string, Lookup> = {
  plain: { kind: "found", urlId: 1, location: "https://example.com/landing?x=1", source: "db" },
  expiry: { kind: "found", urlId: 2, location: "https://example.com/landing?x=1", source: "db", options: { expiresAt: Date.now() + 3.15e11 } },
  forward: { kind: "found", urlId: 3, location: "https://example.com/landing?x=1", source: "db", options: { forwardQuery: true } },
};
const gate = createGate();
gate.trusted = true;
const lru = createLru<Lookup>({ maxEntries: 10 });
for (const [code, value] of Object.entries(links)) lru.set(code, { ...value, source: "lru" }, 3_600_000);
const lookup = createLookup({
  lru, gate, tier: createRedisTier(undefined), metrics: createMetrics(), ttlMs: 3_600_000, negativeTtlMs: 5_000,
  resolve: () => Promise.reject(new Error("every code is cached")),
});
const service = createRedirectService({ lookup: lookup.lookup, clicks: { record: () => {}, flushNow: async () => {}, stop: async () => {} } });
const request = new Request("http://short.example/code?utm_source=mail&utm_medium=x");
const visit = { referrer: null, userAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0" };

async function block(code: string): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < ops; i++) {
    const response = redirectAnswer(await service.follow(code, visit), code, request);
    if (response.status !== 302) throw new Error(`${code}: ${response.status}`);
  }
  return ((performance.now() - started) * 1000) / ops;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)]!;
const times: Record<string, number[]> = { plain: [], expiry: [], forward: [] };
for (const code of Object.keys(times)) await block(code); // warm-up: JIT every path
for (let b = 0; b < blocks; b++) for (const code of Object.keys(times)) times[code]!.push(await block(code));
const base = median(times.plain!);
for (const [code, t] of Object.entries(times)) {
  console.log(`${code.padEnd(8)} ${median(t).toFixed(3)} µs/redirect (median of ${blocks} blocks of ${ops}), ${(median(t) / base).toFixed(3)}× plain`);
}
console.log(`load ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}`);
