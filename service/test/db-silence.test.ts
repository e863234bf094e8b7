/**
 * PostgreSQL that stops answering without closing anything (a frozen server, a paused VM, a cut
 * link): the path to it is held by a loopback proxy, so sockets stay open and bytes wait.
 * statement_timeout cannot help there; DB_RESPONSE_TIMEOUT_MS must: requests that need the
 * database get 503 instead of waiting for the path to heal, cached redirects keep answering, and
 * once the path heals requests succeed again. The statement timeout is a minute, so without the
 * watchdog every request here would wait until `release()` and the test would miss its deadline.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp, type App } from "../src/app.ts";
import { testConfig } from "../src/config.ts";
import { connect } from "../src/db/client.ts";
import { createSocketWatchdog, messageTypes } from "../src/db/socket-watchdog.ts";
import { buildDeps, type Deps } from "../src/deps.ts";
import { silentLogger } from "../src/lib/logger.ts";
import { testApp, type TestApp } from "./harness.ts";
import { tcpProxy, type TcpProxy } from "./tcp-proxy.ts";
import { waitFor } from "./wait.ts";

let h: TestApp;
let proxy: TcpProxy;
let deps: Deps;
let app: App;
let proxiedUrl: string;
let userId: number;
let cachedCode: string;

async function call(path: string, init: RequestInit = {}) {
  const res = await app.handle(new Request(`http://localhost${path}`, { ...init, headers: { authorization: `Bearer ${h.adminKey}`, "content-type": "application/json" } }));
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text.startsWith("{") || text.startsWith("[") ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  h = await testApp();
  const target = new URL(h.databaseUrl);
  proxy = tcpProxy({ host: target.hostname, port: Number(target.port) });
  await proxy.start();
  target.port = String(proxy.port);
  proxiedUrl = target.toString();
  // The response timeout is raised to statement timeout + 1 s, so the statement timeout is kept short here.
  deps = buildDeps({ ...testConfig(), dbStatementTimeoutMs: 500, dbResponseTimeoutMs: 1_000 }, silentLogger, proxiedUrl);
  deps.health.markReady();
  app = createApp(deps);
  userId = (await call("/users", { method: "POST", body: JSON.stringify({ username: "silence", email: "silence@example.com" }) })).json.id;
  cachedCode = (await call("/urls", { method: "POST", body: JSON.stringify({ user_id: userId, original_url: "https://silence.example/" }) })).json.short_code;
  expect((await call(`/${cachedCode}`)).status).toBe(302);
}, 30_000);

afterAll(async () => {
  proxy.release();
  await deps.close();
  await proxy.stop();
  await h.close();
}, 30_000);

describe("the wire protocol reader", () => {
  test("finds every message type across chunk boundaries, after an untyped first message", () => {
    const seen: string[] = [];
    const read = messageTypes(true, (t) => seen.push(String.fromCharCode(t)));
    // StartupMessage (length 8, no type), then Q (length 5 + 1 byte), then S (length 4), split oddly.
    const bytes = Uint8Array.from([0, 0, 0, 8, 1, 2, 3, 4, 0x51, 0, 0, 0, 5, 0, 0x53, 0, 0, 0, 4]);
    for (const cut of [[0, 3], [3, 10], [10, 15], [15, 19]] as const) read(bytes.slice(cut[0], cut[1]));
    expect(seen).toEqual(["Q", "S"]);
  });
});

describe("PostgreSQL silent with connections open", () => {
  test("a read and a write answer 503 with Retry-After while the path is cut; a cached redirect still answers 302", async () => {
    proxy.hold();
    try {
      const read = await call(`/users/${userId}`);
      expect(read.status, read.text).toBe(503);
      expect(read.json).toEqual({ error: "Service Unavailable", message: "the database is not answering; try again shortly" });
      expect(read.headers.get("retry-after")).toBe("5");

      const create = await call("/urls", { method: "POST", body: JSON.stringify({ user_id: userId, original_url: "https://while-cut.example/" }) });
      expect(create.status, create.text).toBe(503);

      const cached = await call(`/${cachedCode}`);
      expect(cached.status, cached.text).toBe(302);
      expect(cached.headers.get("location")).toBe("https://silence.example/");
      const metrics = await (await app.handle(new Request("http://localhost/metrics"))).text();
      expect(metrics).toMatch(/^linkfort_db_connections_silent_total [1-9]/m);
    } finally {
      proxy.release();
    }
  }, 30_000);

  test("once the path heals, the same requests succeed without a restart", async () => {
    await waitFor("a read through the healed path", async () => (await call(`/users/${userId}`)).status === 200, 20_000);
    const create = await call("/urls", { method: "POST", body: JSON.stringify({ user_id: userId, original_url: "https://after-cut.example/" }) });
    expect(create.status, create.text).toBe(201);
    expect(create.json.original_url).toBe("https://after-cut.example/");
  }, 30_000);
});

describe("a suspect server", () => {
  test("after one connection was closed for silence the next gets the short deadline, until any connection hears a byte", async () => {
    // A server that never answers, except a connection whose startup says ECHO: it gets one byte.
    const server = Bun.listen({
      hostname: "127.0.0.1", port: 0,
      socket: { data(socket, chunk) { if (Buffer.from(chunk).subarray(4, 8).toString() === "ECHO") socket.write("x"); } },
    });
    const limits: number[] = [];
    const watchdog = createSocketWatchdog({ silenceMs: 1_500, onSilence: (_, limit) => limits.push(limit) });
    const at = { host: ["127.0.0.1"], port: [server.port] };
    const startup = (word: string) => Buffer.concat([Uint8Array.from([0, 0, 0, 8]), Buffer.from(word)]);
    const closedFor = async (socket: ReturnType<typeof watchdog.socket>, n: number) => {
      socket.on("error", () => {});
      await waitFor(`connection ${n} closed for silence`, () => limits.length >= n, 10_000);
    };
    try {
      const first = watchdog.socket(at);
      first.write(startup("WAIT"));
      await closedFor(first, 1);
      const second = watchdog.socket(at);
      second.write(startup("WAIT"));
      await closedFor(second, 2);
      const echo = watchdog.socket(at);
      echo.on("error", () => {});
      const heard = new Promise((resolve) => echo.once("data", resolve));
      echo.write(startup("ECHO"));
      await heard;
      echo.destroy();
      const third = watchdog.socket(at);
      third.write(startup("WAIT"));
      await closedFor(third, 3);
      expect(limits).toEqual([1_500, 1_000, 1_500]);
    } finally {
      watchdog.stop();
      server.stop(true);
    }
  }, 30_000);
});

describe("a quiet connection", () => {
  test("is never closed for being idle: only silence with a query outstanding counts", async () => {
    let closed = 0;
    // The timeout leaves room for a slow startup on a busy machine; the idle wait outlasts it.
    const { sql } = connect({ url: proxiedUrl, poolMax: 1, statementTimeoutMs: 0, applicationName: "silence-idle", responseTimeoutMs: 2_000, onResponseTimeout: () => { closed++; } });
    try {
      expect((await sql<{ n: number }[]>`select 1 as n`)[0]!.n).toBe(1);
      // Idle for longer than the response timeout: nothing is outstanding, so nothing may be closed.
      await Bun.sleep(2_500);
      expect((await sql<{ n: number }[]>`select 2 as n`)[0]!.n).toBe(2);
      // A query that legitimately runs shorter than the timeout is not cut either.
      expect((await sql<{ n: number }[]>`select 3 as n from pg_sleep(0.1)`)[0]!.n).toBe(3);
      expect(closed).toBe(0);
    } finally {
      await sql.end({ timeout: 2 });
    }
  }, 30_000);
});
