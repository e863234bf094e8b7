/** The access log and request metrics, over a real listener and PostgreSQL: health probes stay out of the info log. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../app.ts";
import { testConfig } from "../config.ts";
import { buildDeps, type Deps } from "../deps.ts";
import { createLogger, type LogLevel } from "../lib/logger.ts";
import { createDatabase, dropDatabase } from "../../test/pg.ts";

type Line = Record<string, unknown>;

interface Running {
  base: string;
  lines: Line[];
  deps: Deps;
  stop(): Promise<void>;
}

const stack: Running[] = [];
let database: { name: string; url: string };
beforeAll(async () => { database = await createDatabase(); });
afterAll(async () => {
  for (const running of stack) await running.stop();
  await dropDatabase(database.name);
});

/** The app as `serve` runs it (fast redirect path included) on a random port, its log lines recorded. */
function start(level: LogLevel): Running {
  const lines: Line[] = [];
  const logger = createLogger(level, { service: "linkfort" }, (line) => lines.push(JSON.parse(line) as Line));
  const deps = buildDeps(testConfig({ accessLog: true }), logger, database.url);
  deps.health.markReady();
  const server = createApp(deps).listen({ port: 0, hostname: "127.0.0.1" }).server!;
  const running = { base: `http://127.0.0.1:${server.port}`, lines, deps, stop: async () => { await server.stop(true); await deps.close(); } };
  stack.push(running);
  return running;
}

const accessLines = (r: Running, path: string) => r.lines.filter((l) => l.msg === "request" && l.path === path);

async function requestsCounted(r: Running, route: string, status: number): Promise<number> {
  const text = await r.deps.metrics.registry.metrics();
  const series = new RegExp(`^linkfort_http_requests_total\\{method="GET",route="${route.replace("/", "\\/")}",status="${status}"\\} (\\d+)$`, "m");
  return Number(series.exec(text)?.[1] ?? 0);
}

/** The observer runs after the response is sent: wait for a condition, with a deadline. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

describe("access log of health probes", () => {
  test("at info, /ready and /live write no access line but are counted; a redirect still writes one", async () => {
    const r = start("info");
    for (const path of ["/ready", "/live", "/ready"]) expect((await fetch(r.base + path)).status).toBe(200);
    // The fast path (redirect/fast-path.ts): an unknown code is a 404 with its access line at info.
    expect((await fetch(`${r.base}/nosuchcode`, { redirect: "manual" })).status).toBe(404);
    // The counter and the line come from the same call (observe.ts `end`): once counted, a line would be there.
    await until("the probes counted", async () => (await requestsCounted(r, "/ready", 200)) === 2 && (await requestsCounted(r, "/live", 200)) === 1);
    await until("the redirect's access line", async () => accessLines(r, "/nosuchcode").length === 1);

    expect(accessLines(r, "/ready"), JSON.stringify(r.lines)).toEqual([]);
    expect(accessLines(r, "/live"), JSON.stringify(r.lines)).toEqual([]);
    expect(accessLines(r, "/nosuchcode")).toMatchObject([{ level: "info", method: "GET", route: "/:short_code", status: 404 }]);
    expect(await requestsCounted(r, "/ready", 200)).toBe(2);
    expect(await requestsCounted(r, "/live", 200)).toBe(1);
  });

  test("at debug, a probe's access line is written at debug", async () => {
    const r = start("debug");
    expect((await fetch(`${r.base}/ready`)).status).toBe(200);
    await until("the probe counted", async () => (await requestsCounted(r, "/ready", 200)) === 1);
    expect(accessLines(r, "/ready")).toMatchObject([{ level: "debug", method: "GET", route: "/ready", status: 200 }]);
    expect(await requestsCounted(r, "/ready", 200)).toBe(1);
  });
});
