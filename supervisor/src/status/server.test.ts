import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { silentLogger } from "../../../service/src/lib/logger.ts";
import { waitFor } from "../../../service/test/wait.ts";
import { sampleSnapshot } from "../../test/status-sample.ts";
import { createSupervisorMetrics } from "../metrics.ts";
import { createStatusServer, type RollingRestartResult, type StatusServer } from "./server.ts";

const snapshot = sampleSnapshot();
const metrics = createSupervisorMetrics();
let nextRolling: () => Promise<RollingRestartResult> = async () => ({ ok: true, detail: "3 instances restarted" });
let rollingCalls = 0;
let server: StatusServer;
const TOKEN = "0123456789abcdef".repeat(4);
const authorized = { Authorization: `Bearer ${TOKEN}` };
let base: string;

beforeAll(() => {
  server = createStatusServer({
    host: "127.0.0.1", port: 0, snapshot: () => snapshot, metrics, logger: silentLogger, controlToken: TOKEN,
    onRollingRestart: () => { rollingCalls++; return nextRolling(); },
  });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.stop(), 30_000);

async function call(path: string, init: RequestInit = {}) {
  const res = await fetch(base + path, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as unknown };
}

describe("read endpoints", () => {
  test("GET /status is the snapshot as JSON", async () => {
    const res = await call("/status");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(res.json()).toEqual(snapshot);
  });

  test("GET /metrics is Prometheus text with the supervisor's metrics", async () => {
    metrics.instanceUp.set({ port: "8081" }, 1);
    metrics.alertsSent.inc({ severity: "critical" });
    const res = await call("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(metrics.registry.contentType);
    expect(res.text).toContain('linkfort_supervisor_instance_up{port="8081"} 1');
    expect(res.text).toContain('linkfort_supervisor_alerts_sent_total{severity="critical"} 1');
    expect(res.text).toContain("# TYPE linkfort_supervisor_alerts_dropped_total counter");
  });

  test("GET /table is a self-refreshing page with every instance and every value escaped", async () => {
    const res = await call("/table");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(res.text).toContain('<meta http-equiv="refresh" content="5">');
    for (const port of [8081, 8082, 8083]) expect(res.text).toContain(`<td class="num">${port}</td>`);
    expect(res.text).toContain('<span class="state bad">backoff</span>');
    // Each instance's release; the one that is not the supervisor's is marked, in words for a screen reader too.
    expect(res.text).toContain('<span class="state ok">ready</span></td><td class="version">0.1.0</td>');
    expect(res.text).toContain('<span class="state bad">backoff</span></td><td class="version">-</td>');
    expect(res.text).toContain(`<td class="version differs" title="not the supervisor's release (0.1.0)">0.2.0-rc.1 <span aria-hidden="true">≠</span><span class="vh"> (not the supervisor's release, 0.1.0)</span></td>`);
    // Regression guard: a last_error carrying markup must arrive as text, not as a script.
    expect(res.text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;\ufffd[31m red");
    expect(res.text).not.toContain("<script");
    expect(res.text).toContain("Backup &lt;older&gt; than 26 h");
    expect(res.text).toContain("linkfort-20250102T030000Z.dump");
    expect(res.text).not.toMatch(/(src|href)="(https?:)?\/\//); // no external assets
  });
});

describe("POST /rolling-restart", () => {
  test("calls the callback and returns its result; a second call meanwhile is 409", async () => {
    let finish!: (r: RollingRestartResult) => void;
    nextRolling = () => new Promise((resolve) => { finish = resolve; });
    const before = rollingCalls;
    const first = call("/rolling-restart", { method: "POST", headers: authorized });
    await waitFor("the first call to start the rolling restart", () => rollingCalls > before, 10_000, { everyMs: 5 });
    const second = await call("/rolling-restart", { method: "POST", headers: authorized });
    expect(second.status).toBe(409);
    expect(second.json()).toEqual({ error: "Conflict", message: "a rolling restart is already running" });
    finish({ ok: true, detail: "3 instances restarted" });
    const done = await first;
    expect(done.status).toBe(200);
    expect(done.json()).toEqual({ ok: true, detail: "3 instances restarted" });
    expect(rollingCalls - before).toBe(1);
  });

  test("a failed or throwing restart is 500 with ok false, and the next one may run", async () => {
    nextRolling = async () => ({ ok: false, detail: "8082 did not become ready within 20 s" });
    const failed = await call("/rolling-restart", { method: "POST", headers: authorized });
    expect([failed.status, failed.json()]).toEqual([500, { ok: false, detail: "8082 did not become ready within 20 s" }]);
    nextRolling = async () => { throw new Error("runner gone"); };
    const thrown = await call("/rolling-restart", { method: "POST", headers: authorized });
    expect([thrown.status, thrown.json()]).toEqual([500, { ok: false, detail: "runner gone" }]);
  });

  // Regression: any local process or user could POST /rolling-restart (loopback and the
  // Host/Origin checks only stop browsers) and restart production at will.
  test("a post without the control token, or with another, is 401 and runs nothing", async () => {
    const before = rollingCalls;
    const message = "POST needs the control token (Authorization: Bearer <the token file's contents>); `linkfort-supervisor rolling-restart` sends it";
    for (const headers of [{} as Record<string, string>, { Authorization: "Bearer wrong" }, { Authorization: TOKEN }, { Authorization: `Bearer ${TOKEN}x` }]) {
      const res = await call("/rolling-restart", { method: "POST", headers });
      expect([res.status, res.json()], JSON.stringify(headers)).toEqual([401, { error: "Unauthorized", message }]);
    }
    expect(rollingCalls).toBe(before);
  });

  test("a cross-site browser post is refused before the callback runs", async () => {
    const before = rollingCalls;
    const res = await call("/rolling-restart", { method: "POST", headers: { ...authorized, Origin: "https://evil.example" } });
    expect(res.status).toBe(403);
    expect(res.json()).toEqual({ error: "Forbidden", message: 'Origin "https://evil.example" is not this server' });
    expect(rollingCalls).toBe(before);
  });
});

describe("errors and binding", () => {
  test("unknown path is 404 JSON, wrong method 405 JSON with Allow", async () => {
    const missing = await call("/nope");
    expect([missing.status, missing.json()]).toEqual([404, { error: "Not Found", message: "no route /nope" }]);
    const wrong = await call("/rolling-restart");
    expect([wrong.status, wrong.json(), wrong.headers.get("allow")]).toEqual([405, { error: "Method Not Allowed", message: "/rolling-restart accepts POST only" }, "POST"]);
  });

  test("a foreign Host header (DNS rebinding) is refused", async () => {
    const res = await call("/status", { headers: { Host: "attacker.example" } });
    expect(res.status).toBe(403);
  });

  // Only loopback is ever contacted from tests: the binding is checked through ::1, which a
  // server bound to 127.0.0.1 alone does not answer.
  test("binds 127.0.0.1 only, and refuses a non-loopback host unless allowed", async () => {
    const reachedV6 = await fetch(`http://[::1]:${server.port}/status`, { signal: AbortSignal.timeout(2_000) }).then(() => true, () => false);
    expect(reachedV6).toBe(false);
    expect(() => createStatusServer({ host: "0.0.0.0", port: 0, snapshot: () => snapshot, metrics, logger: silentLogger, controlToken: TOKEN, onRollingRestart: nextRolling }))
      .toThrow("STATUS_HOST=0.0.0.0 is not a loopback address");
  });
});
