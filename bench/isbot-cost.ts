#!/usr/bin/env bun
/**
 * What isbot's pattern costs per call, beside what the redirect already does for every click in
 * the same run (encodeClick: the spool line it appends), so the number reads as a ratio rather
 * than as microseconds of a loaded machine. Also the shipper's way of calling it (clicks/bots.ts):
 * once per distinct user agent of a batch. Decides whether the flag may sit on the request path.
 *
 *   bun bench/isbot-cost.ts [--calls N]
 */
import { isbot } from "isbot";
import { botFlags } from "../service/src/clicks/bots.ts";
import type { Click } from "../service/src/clicks/model.ts";
import { encodeClick } from "../service/src/clicks/spool-format.ts";

const calls = Number(process.argv[process.argv.indexOf("--calls") + 1] ?? 0) || 200_000;

// A mix like a shortener's traffic: mostly browsers (no match, the pattern's worst case: it runs
// to the end), some unfurlers and crawlers (an early match), a tool, and no header at all.
const AGENTS: (string | undefined)[] = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
  "curl/8.5.0",
  undefined,
];

const clicks: Click[] = Array.from({ length: 1000 }, (_, i) => ({
  id: crypto.randomUUID(), urlId: i + 1, shortCode: `c${i}`, at: new Date(),
  referrer: "https://t.co/AbCdEf", userAgent: AGENTS[i % AGENTS.length], clientIp: "198.51.100.7",
}));

/** ns per call of `work(i)` over `n` calls, best of 5 runs (the least disturbed by other load). */
function nsPerCall(n: number, work: (i: number) => unknown): number {
  let best = Infinity;
  let sink = 0;
  for (let run = 0; run < 5; run++) {
    const start = Bun.nanoseconds();
    for (let i = 0; i < n; i++) if (work(i)) sink++;
    best = Math.min(best, (Bun.nanoseconds() - start) / n);
  }
  if (sink < 0) console.log(sink); // keeps the calls from being optimised away
  return best;
}

// The shipper's worst case: every click of the batch with its own agent (browser builds differ).
const distinct: Click[] = clicks.map((c, i) => ({ ...c, userAgent: `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.${i}.0 Safari/537.36` }));

const browsers = AGENTS.slice(0, 4) as string[];
const encode = nsPerCall(calls, (i) => encodeClick(clicks[i % clicks.length]!));
const perAgent = nsPerCall(calls, (i) => isbot(AGENTS[i % AGENTS.length]));
const perBrowser = nsPerCall(calls, (i) => isbot(browsers[i % browsers.length]));
const batches = Math.max(1, Math.floor(calls / clicks.length));
const perBatchClick = nsPerCall(batches, () => botFlags(clicks).length) / clicks.length;
const perDistinctClick = nsPerCall(batches, () => botFlags(distinct).length) / distinct.length;

const us = (ns: number) => `${(ns / 1000).toFixed(2)} µs`;
console.log(`bun ${Bun.version}, isbot per call (best of 5 × ${calls}); load ${(await Bun.file("/proc/loadavg").text()).split(" ")[0]}`);
console.log(`encodeClick (the spool line, per request today)   ${us(encode)}`);
console.log(`isbot, traffic mix                                 ${us(perAgent)}  = ${(perAgent / encode).toFixed(2)}× encodeClick`);
console.log(`isbot, browsers only (no match: the whole pattern) ${us(perBrowser)}  = ${(perBrowser / encode).toFixed(2)}× encodeClick`);
console.log(`shipper: botFlags per click, batch of 8 agents     ${us(perBatchClick)}  = ${(perBatchClick / encode).toFixed(2)}× encodeClick`);
console.log(`shipper: botFlags per click, 1000 distinct agents  ${us(perDistinctClick)}  = ${(perDistinctClick / encode).toFixed(2)}× encodeClick`);
