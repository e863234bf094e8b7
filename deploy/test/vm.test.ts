/**
 * The VM deployment on a real systemd: a throwaway Debian 12 (systemd-nspawn, deploy/test/bed.sh)
 * gets the real deploy/install.sh, upgrade.sh and uninstall.sh, and every check runs inside it.
 * Needs root (as root, or a user with password-free sudo: bed.sh then runs through `sudo -n`), and
 * systemd-nspawn and mmdebstrap on the host; without them it fails, saying so in one sentence.
 * Takes a few minutes (mmdebstrap, apt, three releases); it prints how long each phase took.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { chmod } from "node:fs/promises";
import { join } from "node:path";
import { requireTool } from "../../service/test/tools.ts";
import { createBed, HOST_TOOLS, waitForLine, type Bed } from "./vm-bed.ts";
import { buildBrokenRelease, buildRelease, packageVersion, removeReleaseOutput } from "./vm-releases.ts";
import { waitFor } from "../../service/test/wait.ts";
import { guestHttp, snapshotDeployment, supervisorRestarts, supervisorStatus } from "./vm-guest.ts";
import { clickedByAgent, linkIds, oldStreamClicks, parseRequestLog, spoolStatus, unshippedPerInstance, type LoggedRequest } from "./vm-clicks.ts";
import { enableDrills, finished, runGuestDrill } from "./vm-drill-guest.ts";
import { failedRequests } from "../../supervisor/src/drill/report.ts";

const ROOT = join(import.meta.dir, "../..");
// Monitoring is installed too once the release carries deploy/monitoring.sh.
const withMonitoring = existsSync(join(ROOT, "deploy/monitoring.sh"));

const MINUTE = 60_000;

/** The timestamped step lines of a deploy script's output (not apt's), for the test log. */
function printSteps(script: string, output: string): void {
  console.log(`${script}:\n${output.split("\n").filter((l) => /^\d\d:\d\d:\d\d \[|took \d+ s$/.test(l)).join("\n")}`);
}
const timings: [string, number][] = [];
async function timed<T>(phase: string, work: () => Promise<T>): Promise<T> {
  const began = performance.now();
  try {
    return await work();
  } finally {
    timings.push([phase, (performance.now() - began) / 1000]);
  }
}

describe("a VM deployment on a real systemd", () => {
  const dir = `/tmp/bed-vm-test-${process.pid}`;
  let bed: Bed;
  let releases: { a: Release; b: Release; broken: Release };
  let adminKey = "";
  let link = { code: "", target: "" };
  const loads: { kill(): void }[] = [];
  const began = performance.now();

  beforeAll(async () => {
    bed = createBed({ dir, name: `lfvm${process.pid}`, monitoring: withMonitoring }); // fails, saying so, without root or password-free sudo
    for (const command of HOST_TOOLS) requireTool(command);
    // The tree comes from the network, the releases from the CPU: both at once.
    const [built] = await Promise.all([
      timed("bed build (mmdebstrap + prefetch)", () => bed.bedSh(["build"])),
      timed("releases (3 builds)", async () => {
        // The test's own version first: dist/linkfort is left as the plain release's binary.
        const b = await buildRelease(bed.shared, `${await packageVersion()}-vmtest.2`);
        const a = await buildRelease(bed.shared);
        const broken = await buildBrokenRelease(b.tarball, `${await packageVersion()}-vmtest.3-broken`, bed.shared);
        releases = { a, b, broken };
      }),
    ]);
    if (built.code !== 0) throw new Error(`bed.sh build failed:\n${built.stdout.slice(-3000)}\n${built.stderr.slice(-3000)}`);
    await Bun.write(join(bed.shared, "bun"), Bun.file(join(ROOT, "node_modules/bun/bin/bun.exe")));
    await chmod(join(bed.shared, "bun"), 0o755);
    await Bun.write(join(bed.shared, "vm-load.ts"), Bun.file(join(import.meta.dir, "vm-load.ts")));
    const up = await timed("boot", () => bed.bedSh(["up"]));
    if (up.code !== 0) throw new Error(`bed.sh up failed:\n${up.stdout}\n${up.stderr}`);
  }, 8 * MINUTE);

  afterAll(async () => {
    for (const load of loads) load.kill();
    if (bed) await bed.remove();
    if (releases) await removeReleaseOutput(releases.b.version);
    timings.push(["whole test", (performance.now() - began) / 1000]);
    console.log(`vm.test.ts phases:\n${timings.map(([p, s]) => `  ${p.padEnd(44)} ${s.toFixed(1)} s`).join("\n")}`);
  }, 2 * MINUTE);

  test("install.sh on a fresh VM starts everything and prints the URL and a new admin key", async () => {
    const v = releases.a.version;
    const flags = withMonitoring ? " --with-monitoring" : "";
    const run = await timed("install.sh (first run)", () =>
      bed.exec(`tar -xzf /shared/linkfort-${v}-linux-x64.tar.gz -C /root && /root/linkfort-${v}/deploy/install.sh${flags}`));
    // The bed is gone after the run: what the instances logged goes into the failure message.
    if (run.code !== 0) throw new Error(`install.sh failed (exit ${run.code}):\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}\n--- journal\n${(await bed.exec("journalctl -u 'linkfort@*' -u linkfort-supervisor -n 80 --no-pager")).stdout}`);
    const out = run.stdout;
    printSteps("install.sh", out);
    expect(out).toContain(`linkfort ${v} is running: http://`);
    adminKey = /admin API key \(shown once[^\n]*\n\s+(\S+)/.exec(out)?.[1] ?? "";
    expect(adminKey, out).toMatch(/^lf_/);
    expect(await bed.sh("cat /etc/linkfort/admin-key")).toBe(adminKey);
    expect(await bed.sh("stat -c '%a %U' /etc/linkfort/admin-key /etc/linkfort/linkfort.env /etc/linkfort/supervisor.env /etc/linkfort/caddy.env /var/lib/linkfort/backups"))
      .toBe(["600 root", "600 root", "600 root", "600 root", "700 root"].join("\n"));
    expect(await bed.sh("readlink /opt/linkfort/current /usr/local/bin/linkfort /usr/local/bin/linkfort-supervisor"))
      .toBe([`/opt/linkfort/releases/${v}`, "/opt/linkfort/current/linkfort", "/opt/linkfort/current/linkfort-supervisor"].join("\n"));
  }, 5 * MINUTE);

  test("every unit is active and enabled", async () => {
    const units = ["linkfort.target", "linkfort@8081", "linkfort@8082", "linkfort@8083", "linkfort-supervisor", "postgresql", "redis-server", "caddy"];
    if (withMonitoring) units.push("prometheus", "prometheus-alertmanager");
    expect((await bed.exec(`systemctl is-active ${units.join(" ")}`)).stdout.trim().split("\n")).toEqual(units.map(() => "active"));
    expect((await bed.exec(`systemctl is-enabled ${units.join(" ")}`)).stdout.trim().split("\n")).toEqual(units.map(() => "enabled"));
    expect(await bed.sh("linkfort version")).toBe(releases.a.version);
  }, MINUTE);

  test("a link created with the printed admin key redirects through Caddy on :8080", async () => {
    const refused = await guestHttp(bed, "POST", "/users", { body: { username: "nokey", email: "nokey@example.com" } });
    expect(refused.status, refused.raw).toBe(401);
    const user = await guestHttp(bed, "POST", "/users", { key: adminKey, body: { username: "vmtest", email: "vmtest@example.com" } });
    expect(user.status, user.raw).toBe(201);
    expect(user.json).toMatchObject({ username: "vmtest", email: "vmtest@example.com" });
    link.target = "https://example.com/vm-test?deploy=1";
    const url = await guestHttp(bed, "POST", "/urls", { key: adminKey, body: { user_id: (user.json as { id: number }).id, original_url: link.target } });
    expect(url.status, url.raw).toBe(201);
    expect(url.json).toMatchObject({ original_url: link.target, is_active: true });
    link.code = (url.json as { short_code: string }).short_code;
    const redirect = await guestHttp(bed, "GET", `/${link.code}`);
    expect(redirect.status, redirect.raw).toBe(302);
    expect(redirect.headers.get("location")).toBe(link.target);
  }, MINUTE);

  test("kill -9 of an instance: systemd starts it again, it becomes ready, and the supervisor alerts once", async () => {
    const show = async () => (await bed.sh("systemctl show -P MainPID -P NRestarts linkfort@8082")).split("\n").map(Number);
    // The supervisor has read the unit at least once (its NRestarts baseline) once it calls it ready.
    await waitFor("the supervisor to call 8082 ready", async () => (await supervisorStatus(bed)).instances.find((i) => i.port === 8082)?.state === "ready", 30_000, { everyMs: 200 });
    const countedBefore = await supervisorRestarts(bed, 8082);
    const alertsBefore = (await supervisorStatus(bed)).alerts.recent.filter((a) => a.key === "instance-restarted:8082").length;
    const [pid, restarts] = await show();
    expect(pid).toBeGreaterThan(0);
    await bed.sh(`kill -9 ${pid}`);
    const after = await waitFor("systemd to start 8082 again and it to be ready", async () => {
      const [newPid, newRestarts] = await show();
      const ready = (await bed.exec("curl -s --max-time 1 http://127.0.0.1:8082/ready")).stdout;
      return newPid !== pid && newPid! > 0 && ready === '{"status":"ready"}' ? { newPid, newRestarts } : null;
    }, 30_000, { everyMs: 200 });
    expect(after.newRestarts).toBe(restarts! + 1);
    expect(await bed.sh("systemctl is-active linkfort@8082")).toBe("active");

    // systemd restarted it by itself; the supervisor must still have noticed, counted and alerted.
    const counted = await waitFor("the supervisor to count the crash", async () => {
      const now = await supervisorRestarts(bed, 8082);
      return (now.crashed ?? 0) > (countedBefore.crashed ?? 0) ? now : null;
    }, 15_000, { everyMs: 200 });
    // A fixed window on purpose: this proves that nothing more happens (a late duplicate alert, or
    // a restart of the supervisor's own, would show up in it); there is no condition to wait for.
    await Bun.sleep(3_000);
    const view = await supervisorStatus(bed);
    const instance = view.instances.find((i) => i.port === 8082);
    console.log(`supervisor after kill -9: restarts ${JSON.stringify(counted)}, last_error ${JSON.stringify(instance?.last_error)}`);
    expect(await supervisorRestarts(bed, 8082)).toEqual({ ...countedBefore, crashed: (countedBefore.crashed ?? 0) + 1 });
    expect(instance?.last_error).toMatch(/systemd restarted it/);
    const alerts = view.alerts.recent.filter((a) => a.key === "instance-restarted:8082");
    expect(alerts.length - alertsBefore).toBe(1);
    expect(alerts[0]).toMatchObject({ title: "Instance 8082 restarted", resolved: false });
    // It was already running again: the supervisor started nothing (same process as above).
    expect((await show())[0]).toBe(after.newPid);
  }, MINUTE);

  test("linkfort-supervisor backup now writes a verified backup into /var/lib/linkfort/backups", async () => {
    const out = await bed.sh("set -a; . /etc/linkfort/supervisor.env; set +a; linkfort-supervisor backup now");
    const file = /backup written: (\/var\/lib\/linkfort\/backups\/\S+) \(.*verified\)/.exec(out)?.[1];
    expect(file, out).toBeDefined();
    expect(await bed.sh(`cd /var/lib/linkfort/backups && sha256sum -c ${file}.sha256`)).toContain(": OK");
  }, 2 * MINUTE);

  // Issue 17: before, any local process could use Redis (and rewrite cached redirects) or POST a
  // rolling restart, and the service's role could create databases.
  test("Redis wants linkfort's credentials, the service's role cannot create databases, POST /rolling-restart wants the token", async () => {
    expect((await bed.exec("redis-cli -h 127.0.0.1 ping")).stdout).toContain("NOAUTH");
    expect(await bed.sh("stat -c '%a %U %G' /etc/redis/linkfort-acl.conf /var/lib/linkfort/backups/.control-token")).toBe("640 root redis\n600 root root");
    expect(await bed.sh("grep -c '^REDIS_URL=redis://linkfort:[0-9a-f]*@127.0.0.1:6379/0$' /etc/linkfort/linkfort.env /etc/linkfort/supervisor.env"))
      .toBe("/etc/linkfort/linkfort.env:1\n/etc/linkfort/supervisor.env:1");
    expect(JSON.parse(await bed.sh("curl -s http://127.0.0.1:8081/health"))).toMatchObject({ redis: "ok" });
    expect(await bed.sh(`runuser -u postgres -- psql -X -Atc "select rolname, rolcreatedb from pg_roles where rolname like 'linkfort%' and rolname <> 'linkfort_monitor' order by 1"`))
      .toBe("linkfort|f\nlinkfort_supervisor|t");
    const check = await bed.sh("set -a; . /etc/linkfort/supervisor.env; set +a; linkfort-supervisor backup check");
    expect(check).toContain("restore check passed");
    expect(await bed.sh("curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:9100/rolling-restart")).toBe("401");
  }, 2 * MINUTE);

  test("a second install.sh run (from the tarball) changes nothing and restarts nothing", async () => {
    const before = await snapshotDeployment(bed);
    const out = await timed("install.sh (second run)", () =>
      bed.sh(`/opt/linkfort/current/deploy/install.sh --tarball /shared/linkfort-${releases.a.version}-linux-x64.tar.gz${withMonitoring ? " --with-monitoring" : ""}`));
    expect(out).toContain("admin API key: in /etc/linkfort/admin-key");
    expect(out).not.toContain(adminKey);
    expect(await snapshotDeployment(bed)).toEqual(before);
    expect(await bed.sh("cat /etc/linkfort/admin-key")).toBe(adminKey);
  }, 3 * MINUTE);

  /**
   * Runs `work` while vm-load.ts requests the link through Caddy; returns its counts. With `tag`,
   * each request is named in its user agent and `requests` lists them (vm-load.ts, REQUEST_LOG).
   */
  async function underLoad(work: () => Promise<void>, opts: { tag?: string } = {}): Promise<LoadCounts & { requests: LoggedRequest[] }> {
    await bed.sh("rm -f /shared/stop-load");
    const logged = opts.tag ? ` ${opts.tag} /shared/${opts.tag}.requests` : "";
    const load = bed.spawn(`/shared/bun /shared/vm-load.ts http://127.0.0.1:8080/${link.code} '${link.target}' /shared/stop-load 4 240${logged}`);
    loads.push(load);
    const lines: string[] = [];
    await waitForLine(load.stdout, /^load started$/, lines).catch(async (error: Error) => {
      throw new Error(`${error.message}\n--- stderr of the load\n${await new Response(load.stderr).text()}`);
    });
    try {
      await work();
    } finally {
      await bed.sh("touch /shared/stop-load");
    }
    await load.exited;
    const summary = lines.find((l) => l.startsWith("{"));
    if (!summary) throw new Error(`no summary from the load: ${lines.join("\n")}\n${await new Response(load.stderr).text()}`);
    const requests = opts.tag ? parseRequestLog(await Bun.file(join(bed.shared, `${opts.tag}.requests`)).text()) : [];
    return { ...(JSON.parse(summary) as LoadCounts), requests };
  }

  const versionsReported = async () => {
    const health = await Promise.all([8081, 8082, 8083].map((p) => bed.sh(`curl -s http://127.0.0.1:${p}/health`)));
    return health.map((body) => (JSON.parse(body) as { version: string }).version);
  };

  const INSTANCE_PORTS = [8081, 8082, 8083] as const;

  /** Waits until every spool on the guest has shipped: /health says 0 everywhere, then `linkfort spool status` (exact) agrees. */
  async function waitForSpoolsShipped(): Promise<void> {
    await waitFor("every instance to report 0 unshipped clicks", async () => (await unshippedPerInstance(bed, INSTANCE_PORTS)).every((n) => n === 0), 60_000, { everyMs: 250 });
    const status = await waitFor("linkfort spool status to show every spool shipped", async () => {
      const out = await spoolStatus(bed);
      const spools = [...out.matchAll(/; (\d+) clicks not yet shipped/g)].map((m) => Number(m[1]));
      return spools.length >= INSTANCE_PORTS.length && spools.every((n) => n === 0) ? out : null;
    }, 30_000, { everyMs: 250 });
    console.log(`linkfort spool status after the drain:\n${status}`);
  }

  test("kill -9 of an instance under load: after the drain, clicked events == 302s answered, one by one", async () => {
    const port = 8083;
    const spooled = async () => Number(/^linkfort_clicks_spooled_total (\d+)/m.exec(await bed.sh(`curl -s --max-time 5 http://127.0.0.1:${port}/metrics`))?.[1] ?? 0);
    const mainPid = async () => Number(await bed.sh(`systemctl show -P MainPID linkfort@${port}`));
    const tag = `vmkill${process.pid}`;
    let kill = { pid: 0, beforeMs: 0, afterMs: 0 };
    const load = await underLoad(async () => {
      // Killed while it holds clicks of this load, and the load goes on until the new process took some too.
      const before = await spooled();
      await waitFor(`${port} to spool 200 clicks of the load`, async () => (await spooled()) >= before + 200, 60_000, { everyMs: 100 });
      const pid = await mainPid();
      const [beforeMs, afterMs] = (await bed.sh(`date +%s%3N; kill -9 ${pid}; date +%s%3N`)).split("\n").map(Number);
      kill = { pid, beforeMs: beforeMs!, afterMs: afterMs! };
      await waitFor(`systemd to start ${port} again`, async () => { const now = await mainPid(); return now > 0 && now !== pid; }, 30_000, { everyMs: 100 });
      await waitFor(`the new ${port} to spool 100 clicks of the load`, async () => (await spooled().catch(() => 0)) >= 100, 60_000, { everyMs: 100 });
    }, { tag });
    expect({ wrong: load.wrong, errors: load.errors, samples: load.samples }).toEqual({ wrong: 0, errors: 0, samples: [] });
    const answered = new Set(load.requests.filter((r) => r.status === 302).map((r) => r.agent));
    expect(answered.size).toBe(load.ok);

    await waitForSpoolsShipped();
    const clicked = await clickedByAgent(bed, link.code, tag);
    const events = [...clicked.values()].reduce((a, b) => a + b, 0);
    // A request the kill cut off after its click was in the spool and before its 302 left is
    // retried by Caddy (a GET) on another instance: one 302, two clicks. Only a request in flight
    // at the kill may show that; any other doubled or unanswered click is a bug.
    const inFlightAtKill = new Set(load.requests.filter((r) => r.startMs <= kill.afterMs && r.endMs >= kill.beforeMs).map((r) => r.agent));
    const doubled = [...clicked].filter(([, n]) => n > 1).map(([agent, n]) => `${agent}×${n}`);
    const report = `kill -9 of ${port} (pid ${kill.pid}) under load: ${load.ok} 302s answered, ${events} clicked events, ${inFlightAtKill.size} requests in flight at the kill, doubled: [${doubled.join(", ")}]`;
    console.log(report);
    expect([...answered].filter((agent) => !clicked.has(agent)), report).toEqual([]); // none answered is lost
    expect([...clicked.keys()].filter((agent) => !answered.has(agent)), report).toEqual([]); // none unanswered is counted
    expect([...clicked].filter(([agent, n]) => n > 2 || (n === 2 && !inFlightAtKill.has(agent))), report).toEqual([]);
    expect(events, report).toBe(answered.size + doubled.length);
  }, 4 * MINUTE);

  test("upgrade.sh to a rebuilt tarball under load: no failed request, no click lost (the spools' nor an old release's Redis stream), every part on the new version", async () => {
    const { a, b } = releases;
    // The clicks a release before the spool (the Redis stream era, up to commit ee309e3) would
    // leave in its stream at an upgrade. Building and installing that release here would add
    // minutes to the bed, so its stream is written the way it wrote it (same key, group and entry
    // formats: vm-clicks.ts) into the VM's Redis, and the real upgrade.sh has to drain it.
    const STREAM = { key: "lf:clicks", count: 300, fieldPerProperty: 20, alreadyWritten: 10 };
    const stream = oldStreamClicks({ ...STREAM, code: link.code, ...(await linkIds(bed, link.code)), tag: `vmstream${process.pid}` });
    await Bun.write(join(bed.shared, "old-stream.resp"), stream.commands);
    await Bun.write(join(bed.shared, "old-stream.sql"), stream.writtenByOldRelease);
    const redisCli = `set -a; . /etc/linkfort/linkfort.env; set +a; redis-cli -u "$REDIS_URL" --no-auth-warning`;
    expect(await bed.sh(`${redisCli} --pipe < /shared/old-stream.resp`)).toContain("errors: 0");
    expect(await bed.sh(`${redisCli} XLEN ${STREAM.key}`)).toBe(String(STREAM.count));
    await bed.sh("runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d linkfort < /shared/old-stream.sql");

    let out = "";
    const tag = `vmupgrade${process.pid}`;
    const load = await underLoad(async () => {
      out = await timed("upgrade.sh (under load)", () => bed.sh(`/opt/linkfort/current/deploy/upgrade.sh /shared/linkfort-${b.version}-linux-x64.tar.gz`));
    }, { tag });
    printSteps("upgrade.sh", out);
    console.log(`upgrade under load: ${JSON.stringify({ ...load, requests: load.requests.length })}`);
    expect({ wrong: load.wrong, errors: load.errors, samples: load.samples }).toEqual({ wrong: 0, errors: 0, samples: [] });
    expect(load.ok).toBeGreaterThan(0);

    // The old stream: every click in PostgreSQL once (the ten the old consumer had written are
    // not written again), and the stream gone.
    expect(out).toContain(`click stream ${STREAM.key}: ${STREAM.count} entries read, ${STREAM.count - STREAM.alreadyWritten} clicks written`);
    expect(await bed.sh(`${redisCli} EXISTS ${STREAM.key}`)).toBe("0");
    const fromStream = await clickedByAgent(bed, link.code, `vmstream${process.pid}`);
    expect(stream.agents.filter((agent) => fromStream.get(agent) !== 1)).toEqual([]);
    expect(fromStream.size).toBe(STREAM.count);
    // The load's clicks: every instance was stopped by SIGTERM and started on the new release,
    // so no request was cut off: clicked events == 302s answered, each once.
    await waitForSpoolsShipped();
    const clicked = await clickedByAgent(bed, link.code, tag);
    const answered = load.requests.filter((r) => r.status === 302).map((r) => r.agent);
    console.log(`upgrade under load: ${answered.length} 302s answered, ${[...clicked.values()].reduce((x, y) => x + y, 0)} clicked events`);
    expect(answered.length).toBe(load.ok);
    expect(answered.filter((agent) => clicked.get(agent) !== 1)).toEqual([]);
    expect(clicked.size).toBe(answered.length);
    expect(out).toContain(`linkfort ${b.version} is running (previous: ${a.version}`);
    expect(await bed.sh("linkfort version")).toBe(b.version);
    expect(await versionsReported()).toEqual([b.version, b.version, b.version]);
    expect(await bed.sh("curl -s http://127.0.0.1:9100/status")).toContain(`"version":"${b.version}"`);
    expect(await bed.sh("readlink /opt/linkfort/current /opt/linkfort/previous")).toBe(`/opt/linkfort/releases/${b.version}\n/opt/linkfort/releases/${a.version}`);
    // The old release's install.sh does not move the VM back: that is upgrade.sh's job.
    const stale = await bed.exec(`/root/linkfort-${a.version}/deploy/install.sh`);
    expect([stale.code, stale.stderr]).toEqual([1, expect.stringContaining(`linkfort ${b.version} is installed here and this is ${a.version}`)]);
  }, 4 * MINUTE);

  test("an upgrade to a release whose instances cannot start rolls back; the old version keeps serving", async () => {
    const { a, b, broken } = releases;
    let result = { code: 0, stdout: "", stderr: "" };
    const load = await underLoad(async () => {
      result = await timed("upgrade.sh (broken release, rolled back)", () => bed.exec(`/opt/linkfort/current/deploy/upgrade.sh /shared/linkfort-${broken.version}-linux-x64.tar.gz`));
    });
    printSteps("upgrade.sh (broken)", result.stdout + result.stderr);
    console.log(`broken upgrade under load: ${JSON.stringify(load)}`);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stderr).toContain(`deploy of ${broken.version} FAILED and was rolled back to ${b.version}`);
    expect({ wrong: load.wrong, errors: load.errors, samples: load.samples }).toEqual({ wrong: 0, errors: 0, samples: [] });
    expect(await versionsReported()).toEqual([b.version, b.version, b.version]);
    expect(await bed.sh("readlink /opt/linkfort/current /opt/linkfort/previous")).toBe(`/opt/linkfort/releases/${b.version}\n/opt/linkfort/releases/${a.version}`);
    const redirect = await guestHttp(bed, "GET", `/${link.code}`);
    expect([redirect.status, redirect.headers.get("location")], redirect.raw).toEqual([302, link.target]);
  }, 4 * MINUTE);

  test("upgrade.sh --rollback goes back to the previous release by hand", async () => {
    const { a, b } = releases;
    const out = await timed("upgrade.sh --rollback", () => bed.sh("/opt/linkfort/current/deploy/upgrade.sh --rollback"));
    expect(out).toContain(`linkfort ${a.version} is running (previous: ${b.version}`);
    expect(await versionsReported()).toEqual([a.version, a.version, a.version]);
    expect(await bed.sh("linkfort version")).toBe(a.version);
  }, 3 * MINUTE);

  // Issue 14's CI subset under systemd (the whole table: bun deploy/test/vm-drill.ts --all). Last
  // before uninstall: the drill kills an instance and the supervisor, which the tests above count.
  test("drills under systemd: an instance SIGKILLed and the supervisor SIGKILLed lose nothing, and without the supervisor nothing fails", async () => {
    await enableDrills(bed);
    const drill = await timed("drill (supervisor-kill, instance-kill)", () => runGuestDrill(bed, "--fault supervisor-kill,instance-kill --rate 40 --phase-ms 1500", 150));
    const rows = ["supervisor-kill", "instance-kill"].map((name) => finished(drill.report?.rows.find((r) => r.fault === name)));
    const summary = `drill exit ${drill.code}:\n${drill.output.slice(-4000)}`;
    console.log(summary);
    for (const row of rows) {
      expect(row, summary).not.toBeNull();
      const redirectFailures = Object.values(row!.phases).reduce((n, p) => n + p.redirect_failures, 0);
      expect({ fault: row!.fault, drained: row!.data.drained, clicksLost: row!.data.clicks_lost, createsMissing: row!.data.creates_missing, redirectFailures }, summary)
        .toEqual({ fault: row!.fault, drained: true, clicksLost: 0, createsMissing: 0, redirectFailures: 0 });
      expect(row!.data.redirects_answered).toBeGreaterThan(0);
    }
    expect(failedRequests(rows[0]!), summary).toBe(0);
  }, 3 * MINUTE);

  test("uninstall.sh removes services and binaries and keeps the data; --purge needs --yes without a tty", async () => {
    await timed("uninstall.sh", () => bed.sh("/opt/linkfort/current/deploy/uninstall.sh"));
    expect((await bed.exec("systemctl list-unit-files --no-legend 'linkfort*'")).stdout.trim()).toBe("");
    expect(await bed.sh("ls /opt/linkfort /usr/local/bin/linkfort /etc/systemd/system/caddy.service.d/linkfort.conf 2>&1 | grep -c 'No such file' || true")).toBe("3");
    expect(await bed.sh("grep -c LINKFORT /etc/caddy/Caddyfile || true")).toBe("0");
    expect(await bed.sh("systemctl is-active caddy postgresql redis-server")).toBe("active\nactive\nactive");
    expect(await bed.sh("ls /var/lib/linkfort/backups | grep -c '\\.sha256$'")).toBe("1");
    expect(await bed.sh("ls /etc/linkfort")).toContain("linkfort.env");
    expect(await bed.sh(`runuser -u postgres -- psql -X -d linkfort -Atc "select original_url from urls where short_code = '${link.code}'"`)).toBe(link.target);

    const refused = await bed.exec("/root/linkfort-*/deploy/uninstall.sh --purge </dev/null");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("add --yes");
    expect(await bed.sh("ls -d /var/lib/linkfort/backups")).toBe("/var/lib/linkfort/backups");
    await bed.sh("/root/linkfort-*/deploy/uninstall.sh --purge --yes");
    expect(await bed.sh("runuser -u postgres -- psql -X -Atc \"select count(*) from pg_database where datname = 'linkfort'\"")).toBe("0");
    expect((await bed.exec("ls -d /var/lib/linkfort /etc/linkfort; getent passwd linkfort")).stdout.trim()).toBe("");
  }, 3 * MINUTE);
});

interface LoadCounts {
  total: number;
  ok: number;
  wrong: number;
  errors: number;
  samples: string[];
}

interface Release {
  version: string;
  tarball: string;
}
