/**
 * monitoring/ against the real thing: a real Prometheus, with the config deploy/monitoring.sh
 * renders (ports moved, 1 s intervals), scrapes a real supervisor, three compiled instances,
 * Caddy, and the Debian postgres, redis and node exporters, while the test drives traffic, a
 * killed instance and a PostgreSQL outage. Then every dashboard query and every rule must return
 * data (no panel or alert watches a metric that does not exist), and Alertmanager, with the
 * rendered config, must deliver to a Discord stand-in and apply its inhibitions.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../service/test/ports.ts";
import { createDiscordStandIn, type DiscordStandIn } from "../../supervisor/test/discord-stand-in.ts";
import { startDaemon, step, until, type Daemon } from "./daemons.ts";
import { MONITORING, ROOT, alertRules, dashboardTargets, recordingRules, withoutGrafanaVariables, withoutThreshold } from "./files.ts";
import { hasNumbers, prometheusApi, prometheusArgv, testConfig, type PrometheusApi } from "./prometheus.ts";
import { startLinkfort, type LinkfortStack } from "./stack.ts";
import { requireTool } from "../../service/test/tools.ts";
import { settle } from "../../service/test/wait.ts";
import { run } from "./tools.ts";
import { databaseOutage, goodBackup, killInstance, ordinaryTraffic, unreadableClick } from "./traffic.ts";

const NEEDS = ["prometheus", "prometheus-alertmanager", "prometheus-postgres-exporter", "prometheus-redis-exporter", "prometheus-node-exporter", "psql", "redis-server", "caddy"] as const;

let stack: LinkfortStack | undefined;
let discord: DiscordStandIn | undefined;
const daemons: Daemon[] = [];
const dirs: string[] = [];
let prom: PrometheusApi;
let amUrl: string;
let jobs: string[];
let from: number;

/** Alertmanager with the rendered config: webhook → the stand-in, timings short enough for a test. */
async function startAlertmanager(port: number, webhook: string): Promise<Daemon> {
  const fake = "https://discord.com/api/webhooks/1/test";
  const rendered = run(["bash", join(ROOT, "deploy/monitoring.sh"), "render-alertmanager", fake]);
  if (rendered.code !== 0) throw new Error(rendered.output);
  const config = Bun.YAML.parse(rendered.output.replaceAll(fake, webhook)) as { route: Record<string, unknown> & { routes: Record<string, unknown>[] } };
  for (const route of [config.route, ...config.route.routes]) Object.assign(route, { group_wait: "1s", group_interval: "1s" });
  const dir = mkdtempSync(join(tmpdir(), "linkfort-am-"));
  dirs.push(dir);
  writeFileSync(join(dir, "alertmanager.yml"), JSON.stringify(config));
  copyFileSync(join(MONITORING, "linkfort-discord.tmpl"), join(dir, "linkfort-discord.tmpl"));
  return startDaemon({
    name: "alertmanager", readyUrl: `http://127.0.0.1:${port}/-/ready`,
    argv: [requireTool("prometheus-alertmanager"), `--config.file=${join(dir, "alertmanager.yml")}`, `--storage.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`, "--cluster.listen-address=", "--log.level=warn"],
  });
}

describe("live monitoring", () => {
  beforeAll(async () => {
    for (const command of NEEDS) requireTool(command); // a missing one fails here, naming its package
    const t0 = performance.now();
    stack = await step("linkfort stack", startLinkfort);
    const [node, redisExporter, pgExporter, promPort, amPort] = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
    daemons.push(await startDaemon({ name: "node exporter", readyUrl: `http://127.0.0.1:${node}/metrics`, argv: [requireTool("prometheus-node-exporter"), `--web.listen-address=127.0.0.1:${node}`] }));
    daemons.push(await startDaemon({
      name: "redis exporter", readyUrl: `http://127.0.0.1:${redisExporter}/metrics`, env: { REDIS_ADDR: stack.redis.url },
      argv: [requireTool("prometheus-redis-exporter"), `-web.listen-address=127.0.0.1:${redisExporter}`],
    }));
    daemons.push(await startDaemon({
      name: "postgres exporter", readyUrl: `http://127.0.0.1:${pgExporter}/metrics`, env: { DATA_SOURCE_NAME: stack.monitorDsn },
      argv: [requireTool("prometheus-postgres-exporter"), `--web.listen-address=127.0.0.1:${pgExporter}`],
    }));
    discord = createDiscordStandIn();
    await discord.start();
    daemons.push(await startAlertmanager(amPort!, discord.url));
    amUrl = `http://127.0.0.1:${amPort}`;

    const generated = testConfig(stack.instancePorts, {
      9100: stack.statusPort, 2019: stack.caddyAdminPort, 9187: pgExporter!, 9121: redisExporter!, 9101: node!, 9090: promPort!, 9093: amPort!,
    });
    jobs = generated.jobs;
    const { argv, dir } = prometheusArgv(requireTool("prometheus"), generated.config, promPort!);
    dirs.push(dir);
    from = Math.floor(Date.now() / 1000);
    daemons.push(await startDaemon({ name: "prometheus", argv, readyUrl: `http://127.0.0.1:${promPort}/-/ready` }));
    prom = prometheusApi(`http://127.0.0.1:${promPort}`);
    // Prometheus hands new targets to its scrapers about 5 s after the start: traffic before the
    // first scrape would be in the first sample, and a rate needs it between two.
    const expected = generated.config.scrape_configs.flatMap((j) => j.static_configs.flatMap((c) => c.targets)).length;
    const allUp = async () => {
      const targets = await prom.targets();
      return targets.length === expected && targets.every((t) => t.health === "up");
    };
    await until("every target scraped and up", allUp, 30_000, 250);

    const live = stack;
    const codes = await step("traffic", () => ordinaryTraffic(live, "before"));
    await step("a good backup", () => goodBackup(live));
    // Killed before the unreadable click: the restarted instance's counters start from nothing.
    await step("kill -9 of an instance", () => killInstance(live, live.instancePorts[2]!));
    await step("an unreadable click", () => unreadableClick(live));
    await step("PostgreSQL outage", () => databaseOutage(live, codes));
    await step("traffic after the outage", () => ordinaryTraffic(live, "after"));
    // Every target up again; the tests below wait (with a deadline) for the scrapes and rule
    // rounds over the traffic, however long a loaded machine takes to run them.
    await until("every target up again", allUp, 30_000, 250);
    console.log(`[timing] live monitoring stack up, traffic, outage and scrapes: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }, 240_000);

  afterAll(async () => {
    for (const daemon of daemons.reverse()) await daemon.stop().catch(() => {});
    await discord?.stop().catch(() => {});
    await stack?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test("Prometheus scrapes every job of prometheus.yml, and every target is up", async () => {
    const targets = await prom.targets();
    expect([...new Set(targets.map((t) => t.labels.job))].sort()).toEqual([...jobs].sort());
    expect(targets.filter((t) => t.health !== "up").map((t) => `${t.labels.job} ${t.scrapeUrl}: ${t.lastError}`)).toEqual([]);
    expect(targets.filter((t) => t.labels.job === "linkfort")).toHaveLength(3);
    expect(await prom.alertmanagers()).toHaveLength(1);
  });

  /**
   * The queries (label → PromQL) that return no data over the run yet. Rates need two scrapes
   * after the traffic and recording rules a round after that: under load those come late, so it
   * asks again until every query has data or the deadline passes, then returns what is still empty.
   */
  const withoutData = (queries: [string, string][]) => settle(async () => {
    const now = Math.ceil(Date.now() / 1000);
    const empty: string[] = [];
    for (const [label, expr] of queries) if (!hasNumbers(await prom.queryRange(expr, from, now))) empty.push(label);
    return empty;
  }, (empty) => empty.length === 0, 45_000, 1_000);

  test("every dashboard panel's query returns data", async () => {
    const empty = await withoutData(dashboardTargets().map((t) => [`${t.panel}: ${t.expr}`, withoutGrafanaVariables(t.expr)]));
    expect(empty).toEqual([]);
  }, 60_000);

  test("every alert's expression without its threshold returns data", async () => {
    const empty = await withoutData(alertRules().map((rule) => [`${rule.alert}: ${withoutThreshold(rule.expr)!}`, withoutThreshold(rule.expr)!]));
    expect(empty).toEqual([]);
  }, 60_000);

  test("every recording rule returns data and every rule evaluates without error", async () => {
    const empty = await withoutData(recordingRules().map((rule) => [rule.record, rule.record]));
    expect(empty).toEqual([]);
    const rules = (await prom.rules()).flatMap((g) => g.rules);
    expect(rules).toHaveLength(alertRules().length + recordingRules().length);
    expect(rules.filter((r) => r.health !== "ok").map((r) => `${r.name}: ${r.health} ${r.lastError ?? ""}`)).toEqual([]);
  }, 60_000);

  test("Alertmanager sends a critical alert to Discord with its summary and runbook, and AllInstancesDown mutes InstanceDown", async () => {
    const annotations = (rule: string) => alertRules().find((a) => a.alert === rule)!.annotations!;
    const alert = (name: string, severity: string, extra: Record<string, string>) =>
      ({ labels: { alertname: name, severity, job: "linkfort", ...extra }, annotations: { ...annotations(name), summary: `${name} from the live test` } });
    const posted = await fetch(`${amUrl}/api/v2/alerts`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify([alert("AllInstancesDown", "critical", {}), alert("InstanceDown", "warning", { instance: "127.0.0.1:8081" })]),
    });
    expect(posted.status).toBe(200);
    // Found by title: a rule of the live Prometheus could fire too (none should within its `for`).
    const embedsOf = (r: { body: unknown }) => (r.body as { embeds: { title: string; description: string }[] }).embeds;
    const message = await until("the AllInstancesDown message", () => discord!.received.find((r) => embedsOf(r)[0]?.title.includes("AllInstancesDown")), 20_000);
    const body = { embeds: embedsOf(message) };
    expect(body.embeds[0]!.title).toBe("[FIRING 1] AllInstancesDown (critical)");
    expect(body.embeds[0]!.description).toContain("**AllInstancesDown from the live test**");
    expect(body.embeds[0]!.description).toContain(`Runbook: ${annotations("AllInstancesDown").runbook}`);
    const muted = await until("InstanceDown marked inhibited", async () => {
      const res = await fetch(`${amUrl}/api/v2/alerts?filter=${encodeURIComponent('alertname="InstanceDown"')}`);
      const [found] = (await res.json()) as { status: { state: string; inhibitedBy: string[] } }[];
      return found?.status.state === "suppressed" && found.status.inhibitedBy.length > 0 ? found : undefined;
    }, 10_000);
    expect(muted.status.state).toBe("suppressed");
    expect(discord!.received.map((r) => embedsOf(r)[0]?.title)).not.toContain("[FIRING 1] InstanceDown (warning)");
  });
});
