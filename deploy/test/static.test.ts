/**
 * What can be checked about the VM deployment without booting anything: the systemd units
 * (`systemd-analyze verify` and `security` against a scratch root laid out like a VM), the
 * Caddyfile (`caddy validate` and `caddy adapt`, for the quick start and both VM sites), and
 * every shell script in the repository (`shellcheck`). The units' behaviour on a real systemd is
 * deploy/test/vm.test.ts. A missing tool fails its part, naming the package to install.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmod, cp, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { serviceSettings } from "../../service/src/config.ts";
import { INSTANCE_RUNTIME_ENV } from "../../service/src/lib/runtime-env.ts";
import { requireTool } from "../../service/test/tools.ts";

const ROOT = join(import.meta.dir, "../..");

const UNITS = ["linkfort@.service", "linkfort.target", "linkfort-supervisor.service"];
// What verify loads: the template needs an instance.
const VERIFY = ["linkfort@8081.service", "linkfort-supervisor.service", "linkfort.target"];

function run(argv: string[], env: Record<string, string> = {}) {
  const r = Bun.spawnSync(argv, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: `${r.stdout.toString()}${r.stderr.toString()}`.trim(), stdout: r.stdout.toString() };
}

/** Unit file → "Key" → every value it is given (comments and sections dropped). */
async function unitSettings(name: string): Promise<Map<string, string[]>> {
  const settings = new Map<string, string[]>();
  for (const line of (await Bun.file(join(ROOT, "systemd", name)).text()).split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) settings.set(m[1]!, [...(settings.get(m[1]!) ?? []), m[2]!]);
  }
  return settings;
}

const seconds = (value: string) => {
  const m = /^(\d+)(s|min)$/.exec(value);
  if (!m) throw new Error(`unexpected time span "${value}"`);
  return Number(m[1]) * (m[2] === "min" ? 60 : 1);
};

describe("systemd units", () => {
  // A scratch root shaped like a VM: the units in /etc/systemd/system, this host's system units
  // (sysinit.target, postgresql.service …) in /usr/lib/systemd/system, and an executable at each
  // ExecStart path, which verify requires. Nothing outside it is read.
  let root: string;
  const verify = (...units: string[]) => run([requireTool("systemd-analyze"), "verify", `--root=${root}`, "--man=no", ...units]);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "linkfort-units-"));
    await mkdir(join(root, "etc/systemd/system"), { recursive: true });
    await mkdir(join(root, "usr/lib/systemd"), { recursive: true });
    await symlink("usr/lib", join(root, "lib"));
    await cp("/usr/lib/systemd/system", join(root, "usr/lib/systemd/system"), { recursive: true });
    for (const unit of UNITS) await cp(join(ROOT, "systemd", unit), join(root, "etc/systemd/system", unit));
    await mkdir(join(root, "opt/linkfort/current"), { recursive: true });
    for (const bin of ["linkfort", "linkfort-supervisor"]) {
      await writeFile(join(root, "opt/linkfort/current", bin), "#!/bin/sh\n");
      await chmod(join(root, "opt/linkfort/current", bin), 0o755);
    }
  }, 60_000);
  afterAll(async () => { if (root) await rm(root, { recursive: true, force: true }); }, 60_000);

  test("systemd-analyze verify passes every unit without a single warning", () => {
    const r = verify(...VERIFY);
    expect(r.out).toBe("");
    expect(r.code).toBe(0);
  });

  test("the verify above would catch a misspelled setting and a missing binary (so it really checks)", async () => {
    const unit = join(root, "etc/systemd/system/linkfort-supervisor.service");
    const good = await Bun.file(unit).text();
    try {
      await writeFile(unit, good.replace("ProtectHome=yes", "ProtectHomee=yes"));
      expect(verify("linkfort-supervisor.service").out).toContain("Unknown key 'ProtectHomee' in section [Service]");
      await writeFile(unit, good.replace("/opt/linkfort/current/linkfort-supervisor run", "/opt/linkfort/current/missing run"));
      expect(verify("linkfort-supervisor.service").out).toContain("Command /opt/linkfort/current/missing is not executable");
    } finally {
      await writeFile(unit, good);
    }
  });

  test("systemd-analyze security rates both services' sandbox 3.0 or better (of 10, lower is safer)", () => {
    const r = run([requireTool("systemd-analyze"), "security", "--offline=true", `--root=${root}`, "--threshold=30", "--no-pager", "linkfort@8081.service", "linkfort-supervisor.service"]);
    expect(r.code, r.out).toBe(0);
    expect(r.out.match(/Overall exposure level for [^:]+: \d\.\d/g)?.length, r.out).toBe(2);
  });

  test("an instance unit matches the deployment contract", async () => {
    const s = await unitSettings("linkfort@.service");
    expect(Object.fromEntries(["Type", "NotifyAccess", "User", "EnvironmentFile", "ExecStart", "PartOf", "Restart", "WantedBy", "KillSignal"].map((k) => [k, s.get(k)]))).toEqual({
      Type: ["notify"], NotifyAccess: ["main"], User: ["linkfort"], EnvironmentFile: ["/etc/linkfort/linkfort.env"],
      ExecStart: ["/opt/linkfort/current/linkfort serve --port %i"], PartOf: ["linkfort.target"], Restart: ["always"],
      WantedBy: ["linkfort.target"], KillSignal: ["SIGTERM"],
    });
    // systemd must not SIGKILL a drain that the service's own defaults allow to finish.
    const drain = (serviceSettings.drainMs.default + serviceSettings.shutdownTimeoutMs.default) / 1000;
    expect(seconds(s.get("TimeoutStopSec")![0]!)).toBeGreaterThan(drain);
    // Bun's JIT needs writable+executable memory.
    expect(s.has("MemoryDenyWriteExecute")).toBe(false);
    // The same runtime environment the quick start's instances get (service/src/lib/runtime-env.ts).
    expect(s.get("Environment")).toEqual(Object.entries(INSTANCE_RUNTIME_ENV).map(([k, v]) => `${k}=${v}`));
  });

  test("the supervisor unit matches the deployment contract", async () => {
    const s = await unitSettings("linkfort-supervisor.service");
    expect(Object.fromEntries(["Type", "NotifyAccess", "User", "EnvironmentFile", "ExecStart", "Restart", "StateDirectory", "StateDirectoryMode"].map((k) => [k, s.get(k)]))).toEqual({
      Type: ["notify"], NotifyAccess: ["main"], User: ["root"], EnvironmentFile: ["/etc/linkfort/supervisor.env"],
      ExecStart: ["/opt/linkfort/current/linkfort-supervisor run"], Restart: ["always"],
      StateDirectory: ["linkfort/backups"], StateDirectoryMode: ["0700"],
    });
    expect(s.get("WatchdogSec")).toHaveLength(1);
    expect(s.get("CapabilityBoundingSet")).toEqual([""]);
  });
});

describe("Caddyfile", () => {
  const caddyfile = join(ROOT, "Caddyfile");
  let home: string;
  beforeAll(async () => { home = await mkdtemp(join(tmpdir(), "linkfort-caddy-home-")); }, 30_000);
  afterAll(async () => { if (home) await rm(home, { recursive: true, force: true }); }, 60_000);
  // Caddy keeps state under $HOME / XDG folders: a scratch one, so the checks leave nothing behind.
  const caddyEnv = (env: Record<string, string>) => ({ HOME: home, XDG_DATA_HOME: join(home, "data"), XDG_CONFIG_HOME: join(home, "config"), ...env });
  const vm = { LINKFORT_PROFILE: "vm", LINKFORT_UPSTREAMS: "127.0.0.1:8081 127.0.0.1:8082 127.0.0.1:8083" };
  const edge = { LINKFORT_PROFILE: "edge", LINKFORT_SITE: ":8080", LINKFORT_APP_UPSTREAMS: "app1:8080 app2:8080" };

  test.each([
    ["the quick start (no variables)", {}],
    ["a VM on :8080", { ...vm, LINKFORT_SITE: ":8080" }],
    ["a VM with a domain (automatic HTTPS)", { ...vm, LINKFORT_SITE: "links.example.com" }],
    ["an edge VM in front of app VMs", edge],
  ])("caddy validate accepts it for %s", (_, env: Record<string, string>) => {
    const r = run([requireTool("caddy"), "validate", "--adapter", "caddyfile", "--config", caddyfile], caddyEnv(env));
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain("Valid configuration");
  });

  type Route = { group?: string; match?: { path?: string[]; host?: string[] }[]; handle: { handler: string; routes?: Route[]; status_code?: number; body?: string }[] };
  function adapt(env: Record<string, string>) {
    const r = run([requireTool("caddy"), "adapt", "--adapter", "caddyfile", "--config", caddyfile], caddyEnv(env));
    expect(r.code, r.out).toBe(0);
    return JSON.parse(r.stdout) as { apps: { http: { servers: Record<string, { listen: string[]; routes: Route[]; metrics?: object; logs?: object }> } }; logging?: { logs: Record<string, { writer?: { filename?: string }; encoder?: { format?: string } }> } };
  }
  /** The public site's server: every profile also has Caddy's metrics site on 127.0.0.1:2019. */
  const publicServer = (config: ReturnType<typeof adapt>) =>
    Object.values(config.apps.http.servers).find((server) => !server.listen.includes("127.0.0.1:2019"))!;
  /** The routes of the one site, unwrapped from a host-matched subroute when there is a domain. */
  const siteRoutes = (routes: Route[]) => (routes[0]?.match?.[0]?.host ? routes[0].handle[0]!.routes! : routes);

  test.each([
    ["quick start", {}],
    ["VM on :8080", { ...vm, LINKFORT_SITE: ":8080" }],
    ["VM with a domain", { ...vm, LINKFORT_SITE: "links.example.com" }],
    ["edge VM", edge],
  ])("%s: /metrics is answered by Caddy with a JSON 404 before any route reaches an instance", (_, env: Record<string, string>) => {
    const config = adapt(env);
    const server = publicServer(config);
    const routes = siteRoutes(server!.routes);
    const metrics = routes.findIndex((r) => r.match?.[0]?.path?.includes("/metrics"));
    const proxy = routes.findIndex((r) => JSON.stringify(r).includes('"handler":"reverse_proxy"'));
    expect(metrics, JSON.stringify(routes)).toBeGreaterThanOrEqual(0);
    expect(metrics).toBeLessThan(proxy);
    // Same handle group: the first matching one wins, so a /metrics request never reaches the proxy.
    expect(routes[metrics]!.group).toBe(routes[proxy]!.group!);
    expect(routes[metrics]!.match![0]!.path).toEqual(["/metrics", "/metrics/*"]);
    const answer = routes[metrics]!.handle[0]!.routes![0]!.handle.find((h) => h.handler === "static_response")!;
    expect(answer.status_code).toBe(404);
    expect(JSON.parse(answer.body!.replace("{http.request.method}", "GET"))).toEqual({ error: "Not Found", message: "no route for GET /metrics" });
    expect(server!.metrics).toEqual({});
  });

  test("VM: every interface on :8080, a domain gets :443 (Caddy adds the :80 redirect), JSON access log to /var/log/caddy", () => {
    const plain = adapt({ ...vm, LINKFORT_SITE: ":8080" });
    expect(publicServer(plain).listen).toEqual([":8080"]);
    const domain = adapt({ ...vm, LINKFORT_SITE: "links.example.com" });
    expect(publicServer(domain).listen).toEqual([":443"]);
    expect(domain.logging!.logs.log0).toMatchObject({ writer: { filename: "/var/log/caddy/linkfort-access.log" }, encoder: { format: "json" } });
  });
});

describe("Caddy's admin API and metrics on a VM", () => {
  // Regression: the admin API, which can rewrite Caddy's config, listened on TCP 127.0.0.1:2019
  // where any local user could reach it.
  test("the admin API is a unix socket in /run/caddy, and only the metrics answer on 127.0.0.1:2019", () => {
    const r = run([requireTool("caddy"), "adapt", "--adapter", "caddyfile", "--config", join(ROOT, "Caddyfile")], {
      HOME: tmpdir(), LINKFORT_PROFILE: "vm", LINKFORT_SITE: ":8080", LINKFORT_UPSTREAMS: "127.0.0.1:8081",
    });
    expect(r.code, r.out).toBe(0);
    const config = JSON.parse(r.stdout) as { admin: unknown; apps: { http: { servers: Record<string, { listen: string[]; routes: unknown[] }> } } };
    expect(config.admin).toEqual({ listen: "unix//run/caddy/admin.sock" });
    const metrics = Object.values(config.apps.http.servers).find((s) => s.listen.includes("127.0.0.1:2019"));
    expect(metrics?.listen).toEqual(["127.0.0.1:2019"]);
    expect(JSON.stringify(metrics?.routes)).toBe(JSON.stringify([{ match: [{ host: ["127.0.0.1"] }], handle: [{ handler: "subroute", routes: [{ handle: [{ handler: "metrics" }] }] }], terminal: true }]));
  });

  test("the caddy drop-in gives the socket's directory to Caddy's user alone", async () => {
    const dropin = await Bun.file(join(ROOT, "deploy/caddy-dropin.conf")).text();
    expect(dropin).toContain("RuntimeDirectory=caddy\n");
    expect(dropin).toContain("RuntimeDirectoryMode=0700\n");
  });
});

describe("shell scripts", () => {
  // Every *.sh in the repository, found by globbing, so scripts added later are covered too.
  const scripts = [...new Bun.Glob("**/*.sh").scanSync({ cwd: ROOT, dot: true })]
    .filter((p) => !/^(node_modules|dist|data)\/|\/node_modules\//.test(p))
    .concat(".ci/run") // CI's entry point: a bash script without the .sh suffix
    .sort();

  test("there are scripts to check (the glob found deploy/release.sh)", () => {
    expect(scripts).toContain("deploy/release.sh");
  });

  test.each(scripts)("shellcheck %s", (script) => {
    // -x with SCRIPTDIR: `source lib/common.sh` is followed relative to the script, as bash would.
    const r = run([requireTool("shellcheck"), "-x", "--source-path=SCRIPTDIR", join(ROOT, script)]);
    expect(r.out.replaceAll(`${ROOT}/`, ""), relative(ROOT, script)).toBe("");
    expect(r.code).toBe(0);
  }, 60_000); // shellcheck -x of a script that sources others takes seconds on a busy machine
});
