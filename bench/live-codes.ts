#!/usr/bin/env bun
/**
 * Which structure holds an instance's live short codes (cache/live-codes.ts): a Set<string>, a
 * Bloom filter in a typed array (1 in 10,000 false "maybe"), or the packed exact table of
 * cache/code-set.ts. For each, in a fresh child process so one's garbage does not count for
 * another: JS heap added (typed arrays included; resident memory
 * is printed too but lags: freed pages go back to the system later) by N random 6-character codes (as the API issues
 * them), time to add them, and the time of one lookup of a present code and of a random absent one.
 *
 *   bun bench/live-codes.ts [--codes 1000000]
 *
 * --load N: the service's own loader instead (cache/live-codes.ts over redirect/repo.ts) against
 * an embedded PostgreSQL filled with N links as bench/generate.ts fills it (or DATABASE_URL, a
 * migrated database, refilled): seconds to load, pages, and heap and resident memory it added.
 */
import { parseArgs } from "./generate.ts";
import postgres from "postgres";
import { createCodeSet } from "../service/src/cache/code-set.ts";
import { createLiveCodes } from "../service/src/cache/live-codes.ts";
import { migrate } from "../service/src/db/migrate.ts";
import { silentLogger } from "../service/src/lib/logger.ts";
import { createMetrics } from "../service/src/metrics.ts";
import { createRedirectRepo } from "../service/src/redirect/repo.ts";
import { fill } from "./lib/data.ts";
import { installExitHooks, runScript } from "./lib/procs.ts";
import * as stack from "./lib/stack.ts";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const STRUCTURES = ["set", "bloom", "packed"] as const;
type Structure = (typeof STRUCTURES)[number];

interface Membership {
  add(code: string): void;
  has(code: string): boolean;
}

// Flat strings, as a request's path gives them (a string built by += is a rope until first hashed).
const randomCode = (): string => String.fromCharCode(...Array.from({ length: 6 }, () => ALPHABET.charCodeAt(Math.floor(Math.random() * 62))));

/** A Bloom filter sized for `n` entries at false-positive rate `p`, k probes by double hashing. */
function bloom(n: number, p: number): Membership & { bytes: number } {
  const bits = Math.ceil((-n * Math.log(p)) / Math.LN2 ** 2);
  const words = new Uint32Array(Math.ceil(bits / 32));
  const k = Math.max(1, Math.round((bits / n) * Math.LN2));
  const probe = (code: string, visit: (bit: number) => boolean): boolean => {
    const h1 = Bun.hash.murmur32v3(code, 0);
    const h2 = Bun.hash.murmur32v3(code, 0x9747b28c) | 1;
    for (let i = 0; i < k; i++) if (!visit(((h1 + Math.imul(i, h2)) >>> 0) % bits)) return false;
    return true;
  };
  return {
    bytes: words.byteLength,
    add: (code) => { probe(code, (bit) => { words[bit >>> 5]! |= 1 << (bit & 31); return true; }); },
    has: (code) => probe(code, (bit) => (words[bit >>> 5]! & (1 << (bit & 31))) !== 0),
  };
}

function build(structure: Structure, n: number): Membership {
  if (structure === "set") return new Set<string>();
  if (structure === "bloom") return bloom(n, 1e-4);
  return createCodeSet();
}

const copy = (code: string) => String.fromCharCode(...Array.from(code, (ch) => ch.charCodeAt(0)));
const settle = () => { Bun.gc(true); return process.memoryUsage(); };

/** One structure, measured in this process; prints one JSON line. */
function child(structure: Structure, n: number): void {
  const codes = Array.from({ length: n }, randomCode);
  const absent = Array.from({ length: n }, randomCode);
  const before = settle();
  const started = performance.now();
  const members = build(structure, n);
  // Copies: in the service the structure's strings are the only references to them (rows from PostgreSQL).
  for (const code of codes) members.add(copy(code));
  const addMs = performance.now() - started;
  const after = settle();
  // Fresh copies: a request's code is a new string whose hash nobody has computed yet.
  const hits = codes.map(copy);
  const timeLookups = (list: string[]) => {
    let found = 0;
    const t = performance.now();
    for (const code of list) if (members.has(code)) found++;
    return { ns: ((performance.now() - t) * 1e6) / list.length, found };
  };
  const hit = timeLookups(hits);
  const miss = timeLookups(absent);
  const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
  console.log(JSON.stringify({
    structure, codes: n, rssMb: mb(after.rss - before.rss), heapMb: mb(after.heapUsed - before.heapUsed),
    addMs: Math.round(addMs), hitNs: Math.round(hit.ns), missNs: Math.round(miss.ns),
    hitsFound: hit.found, falseMaybes: miss.found,
  }));
}

/** The service's loader over a filled database, measured in this process. */
async function load(links: number): Promise<void> {
  const log = (line: string) => process.stderr.write(`[live-codes] ${line}\n`);
  installExitHooks();
  await runScript(async () => {
    const url = await stack.startPostgres(await stack.workDir());
    const sql = postgres(url, { max: 2, onnotice: () => {} });
    await migrate(sql);
    await fill(sql, { users: Math.max(1, Math.ceil(links / 100)), links, events: 0 }, log);
    const repo = createRedirectRepo(sql);
    let pages = 0;
    const codes = createLiveCodes({
      metrics: createMetrics(), logger: silentLogger, estimate: repo.estimatedCodes,
      page: (after, limit) => { pages++; return repo.codesAfter(after, limit); },
    });
    const before = settle();
    const started = performance.now();
    await codes.reload();
    const seconds = (performance.now() - started) / 1000;
    const after = settle();
    const mb = (bytes: number) => (bytes / 1048576).toFixed(1);
    console.log(`loaded ${codes.size} codes in ${pages} pages in ${seconds.toFixed(2)} s; heap +${mb(after.heapUsed - before.heapUsed)} MB, rss +${mb(after.rss - before.rss)} MB`);
    await sql.end();
  }, log);
}

const args = parseArgs(process.argv.slice(2));
const n = Number(args.get("codes") ?? 1_000_000);
const only = args.get("structure") as Structure | undefined;
if (args.has("load")) {
  await load(Number(args.get("load")));
} else if (only) {
  child(only, n);
} else {
  console.log("structure  codes     rss MB  heap MB  add ms  hit ns  miss ns  false maybes (of N random absent)");
  for (const structure of STRUCTURES) {
    const out = await Bun.$`bun ${import.meta.path} --codes ${n} --structure ${structure}`.text();
    const r = JSON.parse(out) as Record<string, number | string>;
    console.log([r.structure, r.codes, r.rssMb, r.heapMb, r.addMs, r.hitNs, r.missNs, r.falseMaybes].map(String).map((s, i) => s.padEnd([11, 10, 8, 9, 8, 8, 9][i] ?? 0)).join(""));
  }
}
