/**
 * The operator's console in headless Chromium against a real supervisor (the compiled
 * `linkfort-supervisor run`, as a VM runs it) with two compiled instances behind Caddy over PostgreSQL, the second
 * built as a next release (a deploy that stopped halfway): every panel shows real data, each instance's release with
 * the one that is not the supervisor's marked, a request's log line arrives in the live log by its request id, an instance restarted
 * from the page comes back, a backup, a restore drill, a load test and a fault drill run from it, a ban is lifted, a link is
 * seen among today's most clicked, found and deactivated (its code then answers 410), the page is usable from the keyboard and in a phone-wide window, and
 * axe-core finds no serious accessibility violation. Screenshots: /tmp/console-*.png.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import type { Browser, Page } from "puppeteer-core";
import { buildBinary } from "../../service/test/binary.ts";
import { createDatabase, dropDatabase } from "../../service/test/pg.ts";
import { freePort } from "../../service/test/ports.ts";
import { requireTool } from "../../service/test/tools.ts";
import { launchChromium } from "../../service/test/chromium.ts";
import { waitFor } from "../../service/test/wait.ts";
import { alive } from "./processes.ts";
import { startConsoleProxy } from "./console-proxy.ts";
import { buildSupervisorBinary } from "./console-supervisor-binary.ts";
import { ROOT, spawnSupervisor, tempDataDir, type SupervisorProcess } from "./supervisor-process.ts";

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => {});
}, 60_000);

let sup: SupervisorProcess;
let browser: Browser;
let page: Page;
let console_: string;
let publicUrl: string;
let adminKey: string;
let ports: number[];
let backupDir: string;
let databaseUrl: string;
const shots = process.env.CONSOLE_SCREENSHOTS ?? "/tmp";
/** What both binaries report unless a release sets it (service/src/lib/version.ts). */
const RELEASE = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
/** The second instance's release: the same code built as deploy/release.sh builds LINKFORT_VERSION. */
const NEXT_RELEASE = `${RELEASE}-console-next`;

/** The instance binary built as NEXT_RELEASE, the way `npm run build` and release.sh's --define make it. */
async function buildNextRelease(dir: string): Promise<string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
  const out = join(dir, "linkfort-next");
  const command = `${pkg.scripts.build!.replace("--outfile dist/linkfort", `--outfile ${out}`)} --define=LINKFORT_BUILD_VERSION='"${NEXT_RELEASE}"'`;
  const proc = Bun.spawn(["sh", "-c", command], { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, PATH: `${ROOT}/node_modules/.bin:${process.env.PATH}` } });
  if ((await proc.exited) !== 0) throw new Error(`next-release build failed: ${await new Response(proc.stderr).text()}`);
  return out;
}

/** SERVICE_COMMAND: the instance on `nextPort` runs the next release (exec: the supervisor still sees its own child). */
async function serviceWrapper(dir: string, bin: string, next: string, nextPort: number): Promise<string> {
  const path = join(dir, "linkfort-by-port");
  await writeFile(path, `#!/bin/sh\nif [ "$PORT" = "${nextPort}" ]; then exec "${next}" "$@"; fi\nexec "${bin}" "$@"\n`);
  await chmod(path, 0o755);
  return path;
}

beforeAll(async () => {
  requireTool("chromium"); // before the builds: a missing browser fails at once
  requireTool("caddy");
  const [bin, supervisorBin, db, dataDir] = await Promise.all([buildBinary(), buildSupervisorBinary(), createDatabase(), tempDataDir()]);
  cleanup.push(() => dropDatabase(db.name), () => rm(dataDir, { recursive: true, force: true }));
  const [publicPort, statusPort, a, b] = await Promise.all([1, 2, 3, 4].map(() => freePort()));
  ports = [a!, b!];
  const binDir = await mkdtemp(join(tmpdir(), "linkfort-console-next-"));
  cleanup.push(() => rm(binDir, { recursive: true, force: true }));
  const service = await serviceWrapper(binDir, bin, await buildNextRelease(binDir), b!);
  backupDir = join(dataDir, "backups");
  databaseUrl = db.url;
  sup = spawnSupervisor(["run"], {
    DATABASE_URL: db.url, DATA_DIR: dataDir, BACKUP_DIR: backupDir, INSTANCE_PORTS: ports.join(","),
    PUBLIC_PORT: String(publicPort), STATUS_PORT: String(statusPort), SUPERVISOR_CADDY: "on", SHUTDOWN_DRAIN_MS: "300",
    SERVICE_COMMAND: service, CONSOLE_SCRAPE_MS: "500", PROBE_INTERVAL_MS: "250",
    // Exposed mode: from this machine it behaves as on loopback; through the Caddy below it needs the key.
    CONSOLE_AUTH: "key",
    // Load tests from the page are refused without it.
    DRILLS: "on",
  }, [supervisorBin]);
  cleanup.push(async () => {
    const tree = [sup.proc.pid, ...sup.tree()];
    sup.proc.kill("SIGTERM");
    await Promise.race([sup.proc.exited, Bun.sleep(20_000)]);
    for (const pid of tree) if (alive(pid)) process.kill(pid, "SIGKILL");
  });
  const key = await sup.waitForBannerKey(60_000);
  if (!key) throw new Error(`no admin key in the banner:\n${sup.output().slice(-3000)}`);
  adminKey = key;
  console_ = `http://127.0.0.1:${statusPort}`;
  publicUrl = `http://127.0.0.1:${publicPort}`;

  const profile = await mkdtemp(join(tmpdir(), "linkfort-console-browser-"));
  cleanup.push(() => rm(profile, { recursive: true, force: true }));
  browser = await launchChromium(profile);
  cleanup.push(() => browser.close());
  page = await browser.newPage();
  // axe-core is injected as an inline script, which the console's CSP (rightly) refuses.
  await page.setBypassCSP(true);
  await page.setViewport({ width: 1280, height: 1000 });
}, 120_000);

const text = (selector: string) => page.$eval(selector, (node) => (node as unknown as { textContent: string }).textContent);
/** Waits until `expression` is truthy in the page; on timeout, says which and saves what the page showed. */
async function inPage<T>(expression: string, timeoutMs = 20_000): Promise<T> {
  try {
    return await page.waitForFunction(expression, { timeout: timeoutMs, polling: 100 }).then((handle) => handle.jsonValue() as Promise<T>);
  } catch (error) {
    await page.screenshot({ path: join(shots, "console-failure.png"), fullPage: true }).catch(() => {});
    throw new Error(`not true in ${timeoutMs} ms: ${expression} (screenshot ${join(shots, "console-failure.png")}):\n${String(error)}\n${sup.output().slice(-2000)}`);
  }
}

test("the console shows every panel's real data, streams a request's log line, restarts an instance from the page, and passes axe", async () => {
  const outside: string[] = [];
  const problems: string[] = [];
  await page.setRequestInterception(true);
  page.on("request", (request) => {
    if (request.url().startsWith(console_) || request.url().startsWith("data:")) return void request.continue();
    outside.push(request.url());
    void request.abort("internetdisconnected");
  });
  page.on("pageerror", (error) => problems.push(String(error)));
  await page.goto(`${console_}/`, { waitUntil: "load" });

  // Instances: both ready, with PIDs and RSS from the supervisor's own view.
  const readyRow = (port: number) => `document.querySelector('tr[data-port="${port}"] .state')?.textContent === "ready"`;
  // The click spool's backlog is known once the instance has read its shipped position from PostgreSQL.
  const spoolKnown = (port: number) => `document.querySelector('tr[data-port="${port}"] td:nth-child(8)')?.textContent === "0"`;
  await inPage(ports.flatMap((p) => [readyRow(p), spoolKnown(p)]).join(" && "));
  // Port, state, version, PID, uptime, restarts, RSS, click spool, last error, action.
  const cells = (port: number) => page.$$eval(`tr[data-port="${port}"] td`, (tds) => tds.map((td) => (td as unknown as { textContent: string }).textContent));
  expect(await cells(ports[0]!)).toEqual([String(ports[0]), "ready", RELEASE, expect.stringMatching(/^\d+$/), expect.stringMatching(/^\d+(s|m \d\ds)$/), "0",
    expect.stringMatching(/^[\d.]+ MiB$/), "0", "-", "Restart…"]);
  // Releases, from each instance's /health: the second runs another than the supervisor's, and the page says so
  // in colour, with a sign, and in words a screen reader reads (the sign itself is hidden from it).
  const versionCell = (port: number) => `tr[data-port="${port}"] td.version`;
  expect(await page.$eval(versionCell(ports[0]!), (td) => td.className)).toBe("version");
  expect(await text(versionCell(ports[1]!))).toBe(`≠ ${NEXT_RELEASE} (not the supervisor's release, ${RELEASE})`);
  expect(await page.evaluate(`(() => { const td = document.querySelector('${versionCell(ports[1]!)}');
    return [td.className, td.querySelector('[aria-hidden="true"]')?.textContent, getComputedStyle(td).backgroundColor]; })()`))
    .toEqual(["version differs", "≠ ", "rgb(255, 241, 201)"]);
  expect(await page.$eval("#release-warning", (p) => [(p as unknown as { hidden: boolean }).hidden, p.textContent])).toEqual([false,
    `Not every instance runs the supervisor's release (${RELEASE}): ${RELEASE} on ${ports[0]}; ${NEXT_RELEASE} on ${ports[1]}.`]);
  expect(await text("#meta")).toStartWith(`supervisor ${RELEASE} · `);

  // Traffic through Caddy: a link and its redirects, one of them with a request id we choose.
  const auth = { Authorization: `Bearer ${adminKey}`, "Content-Type": "application/json" };
  const user = await (await fetch(`${publicUrl}/users`, { method: "POST", headers: auth, body: JSON.stringify({ username: "console", email: "console@example.com" }) })).json() as { id: number };
  const link = await (await fetch(`${publicUrl}/urls`, { method: "POST", headers: auth, body: JSON.stringify({ user_id: user.id, original_url: "https://example.com/console" }) })).json() as { short_code: string };
  // Caddy gives every request its id and the instance echoes it: what a user reports to the operator.
  const redirect = await fetch(`${publicUrl}/${link.short_code}`, { redirect: "manual" });
  expect(redirect.status).toBe(302);
  const requestId = redirect.headers.get("x-request-id")!;
  expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
  for (let i = 0; i < 40; i++) await fetch(`${publicUrl}/${link.short_code}`, { redirect: "manual" });
  await page.type('#log-filter input[name="request_id"]', requestId);
  await page.keyboard.press("Enter");

  // Live logs: the redirect's access-log line, found by its request id, from one of the instances.
  const line = await inPage<string>(`[...document.querySelectorAll("#log-view .line")].map((l) => l.textContent).find((t) => t.includes(${JSON.stringify(requestId)}))`);
  expect(line).toMatch(new RegExp(`INFO\\s+(${ports.join("|")})\\s+request request_id=${requestId} .*route=/:short_code .*status=302`));

  // Golden signals: requests per second and latency from the instances' /metrics.
  // Steady traffic meanwhile (bounded), so the newest reading has some.
  let flowing = true;
  const traffic = (async () => {
    for (let i = 0; flowing && i < 5_000; i++) await fetch(`${publicUrl}/${link.short_code}`, { redirect: "manual" });
  })();
  await inPage(`/req\\/s [1-9]|req\\/s 0\\.[0-9]*[1-9]/.test(document.querySelector('[data-chart="rps"] .now').textContent)`).finally(() => { flowing = false; });
  await traffic;
  await inPage(`/p50 [\\d.]+ ms/.test(document.querySelector('[data-chart="latency"] .now').textContent)`);
  expect(await text('[data-chart="rss"] .now')).toMatch(/^rss [\d.]+ MiB$/);
  // Pool saturation over both instances: connections in use (a number, from the pool's own gauge) against DB_POOL_MAX (10) each.
  expect(await text('[data-chart="pool"] .now')).toMatch(new RegExp(`^in use \\d+, size ${ports.length * 10}, waiting \\d+$`));
  expect(await page.$$eval("#charts svg path.s0", (paths) => paths.length)).toBe(8);

  // Timeline and backups: the supervisor's start is there; the backup schedule is shown.
  await inPage(`[...document.querySelectorAll("#timeline-rows tr")].some((r) => r.textContent.includes("supervisor started"))`);
  expect(await text("#backup-summary")).toMatch(/Next run20\d\d-/);
  await page.screenshot({ path: join(shots, "console-overview.png"), fullPage: true });

  // Restart the first instance from the page, by keyboard: Tab to its button, Enter, sign in, confirm.
  const firstPid = Number((await sup.logs().find((l) => l.msg === "instance started" && l.port === ports[0]))?.pid);
  let focused = "";
  for (let i = 0; i < 40 && focused !== String(ports[0]); i++) {
    await page.keyboard.press("Tab");
    focused = await page.evaluate(`document.activeElement?.classList.contains("restart") ? document.activeElement.dataset.port : ""`) as string;
  }
  expect(focused).toBe(String(ports[0]));
  await page.keyboard.press("Enter");
  await inPage(`document.getElementById("sign-in").open`);
  await page.keyboard.type("lf_not_a_key");
  await page.keyboard.press("Enter");
  await inPage(`document.getElementById("sign-in-error").textContent === "not an admin API key"`);
  await page.$eval('#sign-in-form input[name="key"]', (input) => { (input as unknown as { value: string }).value = ""; });
  await page.type('#sign-in-form input[name="key"]', adminKey);
  await page.keyboard.press("Enter");
  await inPage(`!document.getElementById("sign-in").open && document.getElementById("session-state").textContent === "signed in"`);
  await page.click(`button.restart[data-port="${ports[0]}"]`);
  await inPage(`document.getElementById("confirm").open`);
  expect(await text("#confirm-text")).toContain(`Restart instance ${ports[0]}?`);
  await page.screenshot({ path: join(shots, "console-confirm.png") });
  await page.click("#confirm-ok");
  const result = await inPage<string>(`document.getElementById("action-result").textContent.startsWith("Done") && document.getElementById("action-result").textContent`, 45_000);
  expect(result).toMatch(/^Done: restarted 1 instances one at a time/);
  await inPage(`${readyRow(ports[0]!)} && document.querySelector('tr[data-port="${ports[0]}"] td:nth-child(4)').textContent !== "${firstPid}"`);
  // The new process's release is read at its first ready probe.
  await inPage(`document.querySelector('${versionCell(ports[0]!)}')?.textContent === "${RELEASE}"`);
  expect((await cells(ports[0]!)).slice(0, 6)).toEqual([String(ports[0]), "ready", RELEASE, expect.stringMatching(/^\d+$/), expect.stringMatching(/^\d+(\.\d)?s$/), "1"]);
  await inPage(`[...document.querySelectorAll("#timeline-rows tr")].some((r) => r.textContent.includes("instance ${ports[0]} restarted from the console"))`);

  // Backups: one now, then a restore drill. The page shows what each round reported, and the
  // timeline records it. (Since migration 0003 partitioned events, verification fails: "archive
  // has no data for public.events"; the console must show that failure as faithfully as a success.)
  const runBackupAction = async (button: string) => {
    await page.$eval("#backup-result", (node) => { (node as unknown as { textContent: string }).textContent = ""; });
    // Clicked inside the page, found and clicked in one step: the backup table re-renders on every
    // status poll, and page.click's separate find, scroll and click met a replaced (detached) row.
    await page.$eval(button, (node) => (node as unknown as { click(): void }).click());
    await inPage(`document.getElementById("confirm").open`);
    await page.click("#confirm-ok");
    return inPage<string>(`/^(Done|Failed): /.test(document.getElementById("backup-result").textContent) && document.getElementById("backup-result").textContent`, 60_000);
  };
  const backup = await runBackupAction("#backup-now");
  const timelineHas = (title: string) => inPage(`[...document.querySelectorAll("#timeline-rows tr")].some((r) => r.textContent.includes(${JSON.stringify(title)}))`);
  if (backup.startsWith("Done")) await timelineHas("backup done");
  else {
    expect(backup).toMatch(/^Failed: failed at \w+: ./);
    await timelineHas("backup failed");
  }
  // The dump that round wrote is listed with the checksum its sidecar holds.
  const file = await inPage<string>(`document.querySelector("#backup-rows tr[data-file]")?.dataset.file`);
  const sidecar = readFileSync(join(backupDir, `${file}.sha256`), "utf8").split(" ")[0]!;
  expect(sidecar).toMatch(/^[0-9a-f]{64}$/);
  await inPage(`document.querySelector('#backup-rows tr[data-file="${file}"] code')?.textContent === "${sidecar}"`);
  const verified = await runBackupAction(`button.verify[data-file="${file}"]`);
  expect(verified).toMatch(backup.startsWith("Done") ? new RegExp(`^Done: ${file}: OK \\(sha256 ${sidecar}, \\d+ archive entries\\)$`) : /^Failed: /);
  const drill = await runBackupAction("#restore-drill");
  if (backup.startsWith("Done")) {
    expect(drill).toContain(`Done: ${file} restored into a scratch database:`);
    await timelineHas("restore drill passed");
    await inPage(`document.getElementById("backup-summary").textContent.includes("Last restore drillrestore drill passed")`);
  } else expect(drill).toMatch(/^Failed: skipped: /); // no good backup to drill with

  // A load test of the smallest preset: live numbers while it runs, its summary in the timeline.
  await page.select('#load-form select[name="users"]', "50");
  await page.select('#load-form select[name="seconds"]', "10");
  await page.click("#load-start");
  await inPage(`document.getElementById("confirm").open`);
  await page.click("#confirm-ok");
  await inPage(`document.getElementById("load-state").textContent.startsWith("running: 50 users") && /^[1-9][0-9]* [(][0-9]+[/]s now[)]$/.test(document.querySelector('[data-fact="requests"]')?.textContent)`);
  await page.screenshot({ path: join(shots, "console-load.png"), fullPage: true });
  await inPage(`document.getElementById("load-state").textContent === "finished: 50 users for 10 s"`, 40_000);
  expect(await text('[data-fact="failed"]')).toBe("0 (0 5xx, 0 no answer, 0 other status)");
  await timelineHas("load test: 50 users");

  // A fault drill: an instance SIGKILLed under load, its promise judged, the verdict kept.
  await page.select("#drill-fault", "instance-kill");
  await page.click("#drill-start");
  await inPage(`document.getElementById("confirm").open`);
  await page.click("#confirm-ok");
  await inPage(`document.getElementById("drill-state").textContent.startsWith("drill instance-kill running")`);
  const verdict = await inPage<string>(`!document.getElementById("drill-state").textContent.includes("running") && document.getElementById("drill-state").textContent.startsWith("drill instance-kill: ") && document.getElementById("drill-state").textContent`, 90_000);
  expect(verdict).toMatch(/^drill instance-kill: met \(\d+ requests, 0 failed, all ready \d+ ms after the fault\)$/);
  await timelineHas("drill instance-kill: met");

  // A rate-limit ban (made in the database, as the limiter would after an hour of abuse), seen
  // through the service with the operator's key, and lifted from the page.
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const [ban] = await sql<{ id: string }[]>`INSERT INTO bans (subject, kind, level, reason, until)
    VALUES ('203.0.113.77', 'ip', 1, 'console test', now() + interval '1 hour') RETURNING id`;
  await inPage(`document.querySelector('#ban-rows tr[data-ban="${ban!.id}"]')?.textContent.startsWith("203.0.113.77iptemporaryconsole test")`);
  await page.click(`button.lift[data-ban="${ban!.id}"]`);
  await inPage(`document.getElementById("confirm").open`);
  await page.click("#confirm-ok");
  await inPage(`document.getElementById("ban-result").textContent === "Done: ban ${ban!.id} lifted" && !document.querySelector('#ban-rows tr[data-ban="${ban!.id}"]')`);
  const [lifted] = await sql<{ lifted: boolean }[]>`SELECT lifted_at IS NOT NULL AS lifted FROM bans WHERE id = ${ban!.id}`;
  await sql.end();
  expect(lifted).toEqual({ lifted: true });

  // Links at a glance: today's most clicked links as the daily rollup has them (codes and counts,
  // read again until the page and the database agree: the last clicks may still be shipping).
  const rollup = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const pageTop = () => page.$$eval("#top-link-rows tr[data-code]", (rows) => rows.map((r) => {
    const cells = [...r.querySelectorAll("td")].map((td) => (td as unknown as { textContent: string }).textContent);
    return `${cells[0]} ${cells[2]}`;
  }));
  const top = await waitFor("the links panel's top rows equal today's rollup", async () => {
    const rows = await rollup<{ row: string }[]>`SELECT u.short_code || ' ' || cd.clicks AS row FROM click_daily cd JOIN urls u ON u.id = cd.url_id
      WHERE cd.day = current_date ORDER BY cd.clicks DESC, cd.url_id LIMIT 10`;
    const shown = await pageTop();
    return rows.length > 0 && JSON.stringify(shown) === JSON.stringify(rows.map((r) => r.row)) && shown;
  }, 20_000);
  const [own] = await rollup<{ clicks: number }[]>`SELECT cd.clicks FROM click_daily cd JOIN urls u ON u.id = cd.url_id WHERE u.short_code = ${link.short_code} AND cd.day = current_date`;
  await rollup.end();
  expect(own!.clicks).toBeGreaterThanOrEqual(41);
  if (top.length < 10) expect(top).toContain(`${link.short_code} ${own!.clicks}`);
  // Search by code from the keyboard; the exact code comes first, with today's clicks.
  await page.focus('#link-search input[name="q"]');
  await page.keyboard.type(link.short_code);
  await page.keyboard.press("Enter");
  const foundRow = `#found-link-rows tr[data-code="${link.short_code}"]`;
  await inPage(`[...(document.querySelector('${foundRow}')?.querySelectorAll("td") ?? [])].slice(0, 5).map((td) => td.textContent).join("|") === "${link.short_code}|https://example.com/console|code|${own!.clicks}|active"`);
  // Deactivated from the page (found and clicked in one step: the tables re-render every 5 s).
  await page.$eval(`${foundRow} button.deactivate`, (node) => (node as unknown as { click(): void }).click());
  await inPage(`document.getElementById("confirm").open`);
  expect(await text("#confirm-text")).toStartWith(`Deactivate ${link.short_code}?`);
  await page.click("#confirm-ok");
  await inPage(`document.getElementById("link-result").textContent === "Done: link ${link.short_code} deactivated: its code now answers 410"
    && document.querySelector('${foundRow} .state')?.textContent === "inactive"`);
  // Through Caddy, on whichever instance: the contract's 410 for an inactive code (each instance's cache is told at once).
  const gone = await waitFor("the deactivated code answering 410 on every try", async () => {
    const answers = await Promise.all([1, 2, 3, 4].map(() => fetch(`${publicUrl}/${link.short_code}`, { redirect: "manual" }).then(async (r) => [r.status, await r.json()] as const)));
    return answers.every(([status]) => status === 410) && answers[0];
  }, 10_000);
  expect(gone![1]).toMatchObject({ error: "Gone" });

  // axe-core on the whole page, signed in, after the restart.
  await page.addScriptTag({ content: readFileSync(join(ROOT, "node_modules/axe-core/axe.min.js"), "utf8") });
  const violations = await page.evaluate(`axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })))`) as { id: string; impact: string }[];
  console.log(`[axe] violations of any impact: ${JSON.stringify(violations)}`);
  expect(violations.filter((v) => v.impact === "serious" || v.impact === "critical"), JSON.stringify(violations)).toEqual([]);

  // A phone-wide window: nothing wider than the screen but the tables' own scrolling regions.
  await page.setViewport({ width: 390, height: 844 });
  expect(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")).toBe(true);
  await page.screenshot({ path: join(shots, "console-narrow.png"), fullPage: false });

  // The whole page as an operator first sees it (README's picture): every source's lines, unfiltered.
  await page.setViewport({ width: 1280, height: 900 });
  await page.$eval('#log-filter input[name="request_id"]', (input) => { (input as unknown as { value: string }).value = ""; });
  await page.select('#log-filter select[name="level"]', "info");
  await inPage(`document.querySelectorAll("#log-view .line").length >= 10`);
  await page.evaluate("window.scrollTo(0, 0)");
  await page.screenshot({ path: join(shots, "console-full.png"), fullPage: true });

  expect(outside).toEqual([]);
  expect(problems).toEqual([]);
}, 150_000);

test("a cross-site POST is refused, even with the page's session cookie", async () => {
  const cookies = await browser.cookies();
  const session = cookies.find((c) => c.name === "linkfort_console");
  expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict" });
  const res = await fetch(`${console_}/api/rolling-restart`, { method: "POST", headers: { Cookie: `linkfort_console=${session!.value}`, Origin: "https://evil.example" } });
  expect([res.status, await res.json()]).toEqual([403, { error: "Forbidden", message: 'Origin "https://evil.example" is not this server' }]);
});

test("through Caddy (CONSOLE_AUTH=key) no data and no action without the key; with it, the page shows the fleet", async () => {
  const proxy = await startConsoleProxy(Number(new URL(console_).port));
  cleanup.push(() => proxy.stop());
  for (const path of ["/api/overview", "/api/signals", "/api/timeline", "/api/logs", "/api/logs/stream", "/status", "/metrics", "/table"]) {
    const res = await fetch(`${proxy.url}${path}`);
    expect([path, res.status, (await res.json() as { error: string }).error]).toEqual([path, 401, "Unauthorized"]);
  }
  for (const path of ["/api/rolling-restart", `/api/instances/${ports[1]}/restart`, "/rolling-restart"]) {
    const res = await fetch(`${proxy.url}${path}`, { method: "POST", headers: { Origin: proxy.url } });
    expect([path, res.status]).toEqual([path, 401]);
  }

  const context = await browser.createBrowserContext();
  cleanup.push(() => context.close());
  const outside = await context.newPage();
  await outside.setViewport({ width: 1280, height: 800 });
  await outside.goto(`${proxy.url}/`, { waitUntil: "load" });
  await outside.waitForFunction(`document.getElementById("sign-in").open && document.getElementById("instances").hidden`, { timeout: 20_000 });
  expect(await outside.$$eval("#instance-rows tr[data-port]", (rows) => rows.length)).toBe(0);
  await outside.screenshot({ path: join(shots, "console-sign-in.png") });
  await outside.type('#sign-in-form input[name="key"]', adminKey);
  await outside.keyboard.press("Enter");
  await outside.waitForFunction(`!document.getElementById("instances").hidden && document.querySelectorAll("#instance-rows tr[data-port]").length === ${ports.length}`, { timeout: 20_000 });
  const session = (await context.cookies()).find((c) => c.name === "linkfort_console");
  expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict" });
  const overview = await fetch(`${proxy.url}/api/overview`, { headers: { Cookie: `linkfort_console=${session!.value}` } });
  expect(await overview.json()).toMatchObject({ console: { auth: "key", signed_in: true, may_act: true } });
}, 60_000);
