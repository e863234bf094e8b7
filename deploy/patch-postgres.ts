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
 * A third edit bounds the wait for a connection. A request that finds every connection of the
 * pool busy or still opening waits in the pool's queue with no deadline of its own: the socket
 * watchdog only sees queries already sent, and connect_timeout only the attempt a query started.
 * While PostgreSQL's link was cut, requests waited there until the link came back (issue #14's
 * postgres-link-cut drill: 52–75 of ~2000 requests unanswered in 10 s). With a new option,
 * `queue_timeout` (seconds, like connect_timeout), a request (a query, the `begin` of a
 * transaction, a reserve()) still in the queue after it is taken out and rejected with the
 * connection error QUEUE_TIMEOUT; postgres.js's own `cancelled` flag makes sure it never runs
 * later. Only the pool's queue: a query already handed to a connection is left to the watchdog,
 * the connect timeout and statement_timeout.
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
const QUEUE_MARK = "/* linkfort: queue timeout (deploy/patch-postgres.ts) */";
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

// The pool's waiting queue (not begin()'s own `queries`, which is indented deeper) becomes one
// whose push arms a timer and whose shift and remove disarm it: a request handed to a connection
// is never touched, and no timer outlives its request's wait.
const QUEUE_TIMEOUT_EDITS: Patch["edits"] = [
  {
    find: "  const queries = Queue()\n      , connecting = Queue()\n",
    replace: `  ${QUEUE_MARK}\n  const queries = deadlineQueue(Queue(), options.queue_timeout, (query) => {\n    query.cancelled = true\n    query.reject(Errors.connection('QUEUE_TIMEOUT', options))\n  })\n      , connecting = Queue()\n`,
  },
  {
    find: "function parseOptions(a, b) {\n",
    replace: `function deadlineQueue(queue, seconds, expire) {\n  if (!seconds)\n    return queue\n  const timers = new Map()\n  const disarm = x => (x && timers.has(x) && (clearTimeout(timers.get(x)), timers.delete(x)), x)\n  return {\n    get length() { return queue.length },\n    push: x => (timers.set(x, setTimeout(() => queue.remove(x) && timers.delete(x) && expire(x), seconds * 1000)), queue.push(x)),\n    shift: () => disarm(queue.shift()),\n    remove: x => disarm(queue.remove(x))\n  }\n}\n\nfunction parseOptions(a, b) {\n`,
  },
  {
    // parseOptions keeps only the options it knows.
    find: "    socket          : o.socket,\n",
    replace: "    socket          : o.socket,\n    queue_timeout   : o.queue_timeout,\n",
  },
];

const PATCHES: Patch[] = FORMS.flatMap((form) => [
  { mark: MARK, file: `${form}/connection.js`, edits: CLOSED_SOCKET_EDITS },
  { mark: POOL_MARK, file: `${form}/index.js`, edits: POOL_COUNTS_EDITS },
  { mark: QUEUE_MARK, file: `${form}/index.js`, edits: QUEUE_TIMEOUT_EDITS },
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
