/**
 * A stand-in instance for supervisor tests that need instance output in bulk, as a real
 * instance produces in an outage (a warning per failed query): it logs CHATTY_LINES warning
 * lines (default 20,000, about 7 MB) through the service's logger as fast as it is read, and
 * answers /ready 200 only once every line has left its stdout, i.e. once the supervisor has
 * read them all. GET /say logs one more line; every other path answers 200 too. It ends on SIGTERM or when its stdin closes
 * (EXIT_WITH_STDIN, as the real instance does).
 */
import { createLogger, stdoutLogStats } from "../../service/src/lib/logger.ts";

const count = Number(process.env.CHATTY_LINES ?? 20_000);
const logger = createLogger("info", { service: "linkfort", port: Number(process.env.PORT) });
// Roughly the size of a real query-failure warning.
const error = { name: "PostgresError", message: "connection refused ".repeat(12).trim(), code: "ECONNREFUSED" };

let logged = 0;
// Never more than 1 MiB waiting for the supervisor to read: this instance drops nothing itself,
// so whatever is lost was lost by the supervisor.
const logSome = () => {
  if (stdoutLogStats().heldBytes < 1024 * 1024) {
    for (let i = 0; i < 500 && logged < count; i++) logger.warn("database query failed", { n: logged++, error });
  }
  if (logged < count) setTimeout(logSome, 1);
};
logSome();

const done = () => logged === count && stdoutLogStats().heldBytes === 0;
Bun.serve({
  hostname: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT),
  fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/ready" && !done()) return new Response("still logging", { status: 503 });
    // One more line on demand, for a test to see what follows a stall.
    if (path === "/say") {
      logger.info("said");
      return new Response("said");
    }
    return new Response("ok");
  },
});

process.on("SIGTERM", () => process.exit(0));
if (process.env.EXIT_WITH_STDIN === "true") {
  void (async () => {
    for await (const _ of Bun.stdin.stream()) { /* nothing is sent; only the end matters */ }
    process.exit(0);
  })();
}
