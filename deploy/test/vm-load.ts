/**
 * @module Bounded redirect load, run with bun INSIDE the test VM during an upgrade: C workers
 * request one short link through Caddy until STOP_FILE appears (or MAX_SECONDS pass), and count
 * every answer that is not the expected 302 + Location, and every connection error.
 * Prints "load started" once the first redirect succeeded, then one JSON line of counts.
 *
 * With TAG, request n sends `User-Agent: TAG-n` (its clicked event keeps it) and every request is
 * written to REQUEST_LOG as `TAG-n STATUS START_MS END_MS` (STATUS 0: connection error), so the
 * test can match 302s to clicked events one by one.
 *
 *   bun vm-load.ts URL EXPECTED_LOCATION STOP_FILE [CONCURRENCY=8] [MAX_SECONDS=180] [TAG REQUEST_LOG]
 */
import { existsSync, writeFileSync } from "node:fs";

const [url, expected, stopFile, concurrencyArg = "8", maxSecondsArg = "180", tag, requestLog] = process.argv.slice(2);
if (!url || !expected || !stopFile) {
  process.stderr.write("usage: bun vm-load.ts URL EXPECTED_LOCATION STOP_FILE [CONCURRENCY] [MAX_SECONDS] [TAG REQUEST_LOG]\n");
  process.exit(2);
}
const deadline = Date.now() + Number(maxSecondsArg) * 1000;

const counts = { total: 0, ok: 0, wrong: 0, errors: 0, samples: [] as string[] };
const requests: string[] = [];
let sent = 0;
let announced = false;
let stopped = false;

const note = (sample: string) => { if (counts.samples.length < 10) counts.samples.push(sample); };

async function worker(): Promise<void> {
  while (!stopped) {
    counts.total++;
    const name = `${tag}-${++sent}`;
    const started = Date.now();
    let status = 0;
    try {
      const res = await fetch(url!, { redirect: "manual", signal: AbortSignal.timeout(10_000), headers: tag ? { "user-agent": name } : {} });
      const body = await res.text();
      status = res.status;
      if (res.status === 302 && res.headers.get("location") === expected) {
        counts.ok++;
        if (!announced) { announced = true; process.stdout.write("load started\n"); }
      } else {
        counts.wrong++;
        note(`${res.status} location=${res.headers.get("location")} body=${body.slice(0, 200)}`);
      }
    } catch (error) {
      counts.errors++;
      note(`error: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (tag) requests.push(`${name} ${status} ${started} ${Date.now()}\n`);
  }
}

// The stop signal is a file on the folder host and guest share; checking it costs nothing per request.
const watch = setInterval(() => { if (existsSync(stopFile) || Date.now() > deadline) stopped = true; }, 100);
await Promise.all(Array.from({ length: Number(concurrencyArg) }, worker));
clearInterval(watch);
if (tag && requestLog) writeFileSync(requestLog, requests.join(""));
process.stdout.write(JSON.stringify({ ...counts, timedOut: Date.now() > deadline }) + "\n");
