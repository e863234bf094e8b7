#!/usr/bin/env bun
/**
 * Fixes, in node_modules, a defect of postgres.js 3.4.9 that takes an instance down when
 * PostgreSQL goes away (reported upstream as porsager/postgres issues 1066, 1154 and 1208, open
 * at this version). A connection whose socket closed keeps its pending write and its flush timer:
 *   - a query sent on it before it reconnects (a reserved connection: the click adopter's lock,
 *     the partition job, the migration lock) schedules a flush that calls write on a null
 *     socket: an uncaught TypeError outside any promise, so no caller can catch it;
 *   - the stale timer handle makes the next connection attempt's startup message wait in the
 *     buffer instead of going out, so that attempt hangs until its connect timeout;
 *   - a query sent between a socket's error and its close is never answered nor failed: a
 *     reserved connection's caller waits forever (and keeps the connection).
 * The fix, our own: a closed connection drops what it had not sent (closed() has already failed
 * the queries it belonged to), and a write with no socket fails its queries with
 * CONNECTION_CLOSED, which callers already handle as "PostgreSQL is away" (503, retry).
 *
 * A second, smaller edit adds no behaviour: postgres.js keeps its pool's queues (idle, busy,
 * reserved, connecting connections, and the requests waiting for one) private, and the service
 * exports them as gauges (service/src/db/pool-usage.ts). The edit gives the pool a function that
 * returns their lengths, read only when /metrics is scraped: nothing on the query path changes.
 *
 * Runs from package.json's postinstall, so `npm install`, the release build and the compiled
 * binary all carry it. Idempotent; exits 1 naming the file when the text it fixes is not there
 * (a new postgres.js: check whether the defect is still in it, then update or drop this).
 *
 *   bun deploy/patch-postgres.ts [--check]
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const MARK = "/* linkfort: closed-socket writes (deploy/patch-postgres.ts) */";
const POOL_MARK = "/* linkfort: pool counts (deploy/patch-postgres.ts) */";
// The module as Bun, Node (CommonJS) and workerd load it: the same source in three forms.
const FORMS = ["src", "cjs/src", "cf/src"];

interface Patch { mark: string; file: string; edits: { find: string; replace: string }[] }

const CLOSED_SOCKET_EDITS: Patch["edits"] = [
  {
    // nextWrite: no socket any more → fail the queries this write was for, never throw.
    find: "  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)\n",
    replace: `  function nextWrite(fn) {\n    ${MARK}\n    if (socket === null) {\n      chunk = nextWriteTimer = null\n      error(Errors.connection('CONNECTION_CLOSED', options))\n      return false\n    }\n    const x = socket.write(chunk, fn)\n`,
  },
  {
    // closed() after a socket error: error() already failed what was sent before it, but a query
    // sent between the error and the close (a reserved connection's next one) would wait forever.
    // An if, not an expression statement: a line starting with "(" would continue the
    // `return reconnect()` above it.
    find: "    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))\n",
    replace: "    if (hadError ? sent.length : (query || sent.length)) error(Errors.connection('CONNECTION_CLOSED', options, socket))\n",
  },
  {
    // closed(): what was waiting to be sent belonged to the dead socket; forget it and its timer.
    find: "    clearImmediate(nextWriteTimer)\n    socket.removeListener('data', data)\n",
    replace: "    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    socket.removeListener('data', data)\n",
  },
];

// The pool's queue lengths, as service/src/db/pool-usage.ts reads them (`busy` joins postgres.js's
// busy and full queues: both are connections running queries).
const POOL_COUNTS_EDITS: Patch["edits"] = [
  {
    find: "    get parameters() { return options.parameters },\n",
    replace: `    get parameters() { return options.parameters },\n    ${POOL_MARK}\n    linkfortPoolCounts: () => ({ idle: open.length, busy: busy.length + full.length, reserved: reserved.length, connecting: connecting.length, waiting: queries.length }),\n`,
  },
];

const PATCHES: Patch[] = FORMS.flatMap((form) => [
  { mark: MARK, file: `${form}/connection.js`, edits: CLOSED_SOCKET_EDITS },
  { mark: POOL_MARK, file: `${form}/index.js`, edits: POOL_COUNTS_EDITS },
]);

export type PatchResult = { file: string; state: "patched" | "already" | "missing" | "unknown" };

export function patchPostgres(root: string, check = false): PatchResult[] {
  return PATCHES.map(({ mark, file: relative, edits }) => {
    const file = join(root, "node_modules/postgres", relative);
    if (!existsSync(file)) return { file, state: "missing" };
    const text = readFileSync(file, "utf8");
    if (text.includes(mark)) return { file, state: "already" };
    if (!edits.every((edit) => text.split(edit.find).length === 2)) return { file, state: "unknown" };
    if (!check) writeFileSync(file, edits.reduce((out, edit) => out.replace(edit.find, edit.replace), text));
    return { file, state: "patched" };
  });
}

if (import.meta.main) {
  const check = process.argv.includes("--check");
  const results = patchPostgres(join(import.meta.dir, ".."), check);
  const unknown = results.filter((r) => r.state === "unknown");
  for (const r of unknown) console.error(`patch-postgres: ${r.file} does not hold the text this fix expects (another postgres.js version?); see deploy/patch-postgres.ts`);
  if (results.every((r) => r.state === "missing")) console.error("patch-postgres: node_modules/postgres is not installed");
  const pending = results.filter((r) => r.state === "patched").length;
  if (check && pending > 0) console.error(`patch-postgres: ${pending} file(s) not patched yet: run bun deploy/patch-postgres.ts`);
  process.exit(unknown.length > 0 || results.every((r) => r.state === "missing") || (check && pending > 0) ? 1 : 0);
}
