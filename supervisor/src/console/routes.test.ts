/**
 * The console's HTTP rules on a real status server: what a local and a proxied request may see,
 * sign-in and its cookie, cross-site writes, the actions, and the live log's event stream.
 * The admin-key check is a function here; the browser test checks it against real instances.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../../service/src/lib/logger.ts";
import { sampleSnapshot } from "../../test/status-sample.ts";
import { createSupervisorMetrics } from "../metrics.ts";
import { createStatusServer, type StatusServer } from "../status/server.ts";
import { createConsoleAuth, type ConsoleAuthMode } from "./auth.ts";
import { createLogBuffer } from "./log-buffer.ts";
import { createSignals } from "./signals.ts";
import { openTimeline } from "./timeline.ts";
import { createLoadTests } from "./load-test.ts";
import { createConsoleDrills } from "./drills.ts";
import { createServiceApi } from "./service-api.ts";
import { stackFromConfig } from "../drill/stack.ts";
import { testSupervisorConfig } from "../config.ts";

const ADMIN_KEY = "lf_admin";
const dir = await mkdtemp(join(tmpdir(), "linkfort-console-routes-"));
const servers: StatusServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
  await rm(dir, { recursive: true, force: true });
});
const restarted: number[] = [];
const logs = createLogBuffer();

async function consoleServer(mode: ConsoleAuthMode) {
  const server = createStatusServer({
    host: "127.0.0.1", port: 0, snapshot: sampleSnapshot, metrics: createSupervisorMetrics(), logger: silentLogger, controlToken: "t".repeat(64),
    onRollingRestart: async () => ({ ok: true, detail: "rolled" }),
    console: {
      auth: createConsoleAuth({ mode, checkAdminKey: async (key) => (key === ADMIN_KEY ? "admin" : "refused") }),
      signals: createSignals({ ports: [8081], metricsUrl: () => "http://127.0.0.1:1/metrics", intervalMs: 5_000 }),
      logs, timeline: await openTimeline(join(dir, `${mode}.jsonl`), () => {}), ports: [8081, 8082, 8083],
      service: createServiceApi([1], (port, path) => `http://127.0.0.1:${port}${path}`), // nothing listens: every call is 503
      loadTests: createLoadTests({ stack: stackFromConfig(testSupervisorConfig()), drills: false, logger: silentLogger }),
      drills: createConsoleDrills({ stack: stackFromConfig(testSupervisorConfig()), drills: false, logger: silentLogger, busy: () => undefined }),
      onRestartInstance: async (port) => { restarted.push(port); return { ok: true, detail: `restarted ${port}` }; },
      backups: {
        backupNow: async () => ({ ok: true, detail: "backed up" }),
        restoreDrill: async () => ({ ok: false, detail: "skipped: no backup" }),
        verify: async (name) => ({ ok: true, detail: `${name}: OK` }),
        checksums: async (names) => Object.fromEntries(names.map((n) => [n, "ab".repeat(32)])),
      },
    },
  });
  servers.push(server);
  return `http://127.0.0.1:${server.port}`;
}

const base = await consoleServer("loopback");
const exposedBase = await consoleServer("key");
const viaProxy = { Host: "ops.example.com", "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https" };

async function signIn(origin: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${origin}/api/sign-in`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify({ key: ADMIN_KEY }) });
  return { res, cookie: (res.headers.get("set-cookie") ?? "").split(";")[0]! };
}

describe("on loopback", () => {
  test("the page and its data need no key; it loads nothing from elsewhere", async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'; script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script src="/assets/console.js" defer></script>');
    expect(html).not.toMatch(/(src|href)="https?:/);
    const overview = await fetch(`${base}/api/overview`);
    expect(await overview.json()).toMatchObject({
      version: "0.1.0", instances: [{ port: 8081, version: "0.1.0" }, { port: 8082, version: null }, { port: 8083, version: "0.2.0-rc.1" }],
      backup_checksums: { "linkfort-20250102T030000Z.dump": "ab".repeat(32) }, console: { auth: "loopback", signed_in: false, may_act: false },
    });
    expect((await fetch(`${base}/assets/console.js`)).headers.get("content-type")).toBe("text/javascript; charset=utf-8");
  });

  test("acting needs a session from an admin key, in an HttpOnly SameSite=Strict cookie", async () => {
    const without = await fetch(`${base}/api/instances/8082/restart`, { method: "POST" });
    expect([without.status, await without.json()]).toEqual([401, { error: "Unauthorized", message: "acting needs a session: sign in with an admin API key" }]);
    const wrong = await fetch(`${base}/api/sign-in`, { method: "POST", body: JSON.stringify({ key: "lf_nope" }) });
    expect([wrong.status, await wrong.json()]).toEqual([401, { error: "Unauthorized", message: "not an admin API key" }]);
    expect((await fetch(`${base}/api/sign-in`, { method: "POST", body: '{"key": 1}' })).status).toBe(400);

    const { res, cookie } = await signIn(base);
    expect(res.status).toBe(200);
    expect(res.headers.get("set-cookie")).toMatch(/^linkfort_console=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    const done = await fetch(`${base}/api/instances/8082/restart`, { method: "POST", headers: { Cookie: cookie } });
    expect([done.status, await done.json()]).toEqual([200, { ok: true, detail: "restarted 8082" }]);
    expect(restarted).toEqual([8082]);
    const unknown = await fetch(`${base}/api/instances/9999/restart`, { method: "POST", headers: { Cookie: cookie } });
    expect(unknown.status).toBe(404);
    expect(await (await fetch(`${base}/api/rolling-restart`, { method: "POST", headers: { Cookie: cookie } })).json()).toEqual({ ok: true, detail: "rolled" });
    expect(await (await fetch(`${base}/api/backups/run`, { method: "POST", headers: { Cookie: cookie } })).json()).toEqual({ ok: true, detail: "backed up" });
    const verify = (file: string) => fetch(`${base}/api/backups/verify`, { method: "POST", headers: { Cookie: cookie }, body: JSON.stringify({ file }) });
    expect(await (await verify("linkfort-20250102T030000Z.dump")).json()).toEqual({ ok: true, detail: "linkfort-20250102T030000Z.dump: OK" });
    for (const file of ["../.control-token", "linkfort-20250102T030000Z.dump/../../x", "/etc/passwd"]) expect([file, (await verify(file)).status]).toEqual([file, 400]);
    const drill = await fetch(`${base}/api/backups/restore-drill`, { method: "POST", headers: { Cookie: cookie } });
    expect([drill.status, await drill.json()]).toEqual([500, { ok: false, detail: "skipped: no backup" }]);

    // A load test is refused unless DRILLS=on, and only the presets are accepted.
    const load = (body: unknown) => fetch(`${base}/api/load/start`, { method: "POST", headers: { Cookie: cookie }, body: JSON.stringify(body) });
    const refused = await load({ users: 50, seconds: 10 });
    expect([refused.status, await refused.json()]).toEqual([403, { error: "Forbidden", message: "load tests need DRILLS=on (staging or the quick start, never production)" }]);
    expect((await load({ users: 10_000, seconds: 10 })).status).toBe(400);
    expect(await (await fetch(`${base}/api/load`)).json()).toEqual({ enabled: false, run: null });
    const faultDrill = await fetch(`${base}/api/drills/start`, { method: "POST", headers: { Cookie: cookie }, body: JSON.stringify({ fault: "instance-kill" }) });
    expect([faultDrill.status, await faultDrill.json()]).toEqual([403, { error: "Forbidden", message: "drills need DRILLS=on (staging or the quick start, never production)" }]);
    // Bans are read with the session's key; no instance answers here.
    expect((await fetch(`${base}/api/bans`)).status).toBe(401);
    const bans = await fetch(`${base}/api/bans`, { headers: { Cookie: cookie } });
    expect([bans.status, await bans.json()]).toEqual([503, { error: "Service Unavailable", message: "no instance answered; try again when one is ready" }]);
    expect((await fetch(`${base}/api/bans/7/lift`)).status).toBe(405);
    // So are links; a search needs its text before any instance is asked.
    for (const path of ["/api/links/top", "/api/links/search?q=abc"]) {
      const anonymous = await fetch(`${base}${path}`);
      expect([path, anonymous.status, await anonymous.json()]).toEqual([path, 401, { error: "Unauthorized", message: "links are read with your admin key: sign in" }]);
      const signedIn = await fetch(`${base}${path}`, { headers: { Cookie: cookie } });
      expect([path, signedIn.status, (await signedIn.json() as { error: string }).error]).toEqual([path, 503, "Service Unavailable"]);
    }
    for (const q of ["", "%20%20", "a".repeat(201)]) {
      const res = await fetch(`${base}/api/links/search?q=${q}`, { headers: { Cookie: cookie } });
      expect([q, res.status, await res.json()]).toEqual([q, 400, { error: "Bad Request", message: "search for 1 to 200 characters of a short code or a destination URL" }]);
    }
    expect((await fetch(`${base}/api/links/7/deactivate`, { headers: { Cookie: cookie } })).status).toBe(405);
    const noSession = await fetch(`${base}/api/links/7/deactivate`, { method: "POST" });
    expect([noSession.status, await noSession.json()]).toEqual([401, { error: "Unauthorized", message: "acting needs a session: sign in with an admin API key" }]);
    const deactivate = await fetch(`${base}/api/links/7/deactivate`, { method: "POST", headers: { Cookie: cookie } });
    expect([deactivate.status, await deactivate.json()]).toEqual([503, { error: "Service Unavailable", message: "no instance answered; try again when one is ready" }]);

    await fetch(`${base}/api/sign-out`, { method: "POST", headers: { Cookie: cookie } });
    expect((await fetch(`${base}/api/rolling-restart`, { method: "POST", headers: { Cookie: cookie } })).status).toBe(401);
  });

  test("a cross-site POST is refused even with the session cookie", async () => {
    const { cookie } = await signIn(base);
    for (const headers of [{ Origin: "https://evil.example" }, { "Sec-Fetch-Site": "cross-site" }] as Record<string, string>[]) {
      for (const path of ["/api/instances/8081/restart", "/api/links/7/deactivate"]) {
        const res = await fetch(`${base}${path}`, { method: "POST", headers: { Cookie: cookie, ...headers } });
        expect([path, res.status]).toEqual([path, 403]);
      }
    }
    expect(restarted).toEqual([8082]);
  });

  test("a request through a proxy is refused: exposing needs CONSOLE_AUTH=key", async () => {
    const res = await fetch(`${base}/api/overview`, { headers: viaProxy });
    expect(res.status).toBe(403);
  });
});

describe("exposed (CONSOLE_AUTH=key)", () => {
  test("through the proxy nothing but the page shell and sign-in answers without a session", async () => {
    for (const path of ["/api/overview", "/api/signals", "/api/timeline", "/api/logs", "/status", "/metrics", "/table"]) {
      expect([path, (await fetch(`${exposedBase}${path}`, { headers: viaProxy })).status]).toEqual([path, 401]);
    }
    const { res, cookie } = await signIn(exposedBase, viaProxy);
    expect(res.headers.get("set-cookie")).toEndWith("; Secure");
    const overview = await fetch(`${exposedBase}/api/overview`, { headers: { ...viaProxy, Cookie: cookie } });
    expect(await overview.json()).toMatchObject({ console: { auth: "key", signed_in: true, may_act: true } });
    expect((await fetch(`${exposedBase}/status`, { headers: { ...viaProxy, Cookie: cookie } })).status).toBe(200);
  });
});

describe("the live log stream", () => {
  test("sends the kept lines that pass the filter, then new ones as they come", async () => {
    logs.add("8081", { level: "info", msg: "request", request_id: "keep-me", route: "/urls" });
    logs.add("8081", { level: "info", msg: "request", request_id: "other", route: "/urls" });
    const abort = new AbortController();
    const res = await fetch(`${base}/api/logs/stream?request_id=keep-me`, { signal: abort.signal });
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const readUntil = async (needle: string) => {
      for (let i = 0; i < 50 && !text.includes(needle); i++) text += decoder.decode((await reader.read()).value ?? new Uint8Array(), { stream: true });
    };
    await readUntil('"request_id":"keep-me"');
    logs.add("8082", { level: "warn", msg: "later", request_id: "keep-me" });
    await readUntil('"msg":"later"');
    abort.abort();
    const events = text.split("\n\n").filter((e) => e.startsWith("id: ")).map((e) => JSON.parse(e.split("data: ")[1]!) as { msg: string; source: string });
    expect(events.map((e) => `${e.source} ${e.msg}`)).toEqual(["8081 request", "8082 later"]);
  });
});
