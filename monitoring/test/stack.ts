/**
 * The linkfort side of the live monitoring test, as on a VM but on random loopback ports: a real
 * supervisor (process runner) running three compiled instances behind Caddy, with Redis (the
 * shared cache tier and the limiter), PostgreSQL behind a TCP proxy (so the test can take it away), backups every
 * 2 s, and the read-only `linkfort_monitor` role the postgres exporter logs in with.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBinary } from "../../service/test/binary.ts";
import { adminUrl, createDatabase, dropDatabase } from "../../service/test/pg.ts";
import { freePort } from "../../service/test/ports.ts";
import { startRedis, type TestRedis } from "../../service/test/redis.ts";
import { tcpProxy, type TcpProxy } from "../../service/test/tcp-proxy.ts";
import { alive, descendants, isReady } from "../../supervisor/test/processes.ts";
import { spawnSupervisor, type SupervisorProcess } from "../../supervisor/test/supervisor-process.ts";
import { MONITORING } from "./files.ts";
import { until } from "./daemons.ts";
import { requireTool } from "../../service/test/tools.ts";
import { run } from "./tools.ts";

export interface LinkfortStack {
  instancePorts: number[];
  statusPort: number;
  /** Caddy's metrics endpoint (2019 on a VM), as the supervisor started it. */
  caddyAdminPort: number;
  redis: TestRedis;
  /** DATA_DIR/spool: the instances' click spools, one directory per port. */
  spoolRoot: string;
  /** PostgreSQL as the instances and backups reach it: stop() is an outage, start() the recovery. */
  proxy: TcpProxy;
  /** postgres exporter DSN: the monitor role, straight to PostgreSQL (not through the proxy). */
  monitorDsn: string;
  adminKey: string;
  supervisor: SupervisorProcess;
  /** PID of the instance running on `port` now. */
  pidOf(port: number): number;
  stop(): Promise<void>;
}

/** Creates the monitor role with the same SQL deploy/monitoring.sh runs, and returns its DSN. */
function createMonitorRole(databaseUrl: string, database: string): string {
  const password = crypto.randomUUID().replaceAll("-", "");
  const sql = run([requireTool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", `password=${password}`, "-v", `database=${database}`, "-f", join(MONITORING, "postgres-monitor-role.sql"), databaseUrl]);
  if (sql.code !== 0) throw new Error(`postgres-monitor-role.sql failed: ${sql.output}`);
  // A role left by an earlier run against the same server has another password.
  const alter = run([requireTool("psql"), "-X", "-q", "-c", `alter role linkfort_monitor password '${password}'`, databaseUrl]);
  if (alter.code !== 0) throw new Error(alter.output);
  const url = new URL(databaseUrl);
  return `postgresql://linkfort_monitor:${password}@${url.hostname}:${url.port}/${database}?sslmode=disable`;
}

export async function startLinkfort(): Promise<LinkfortStack> {
  const cleanup: (() => Promise<void> | void)[] = [];
  const stop = async () => { for (const step of cleanup.reverse()) await Promise.resolve(step()).catch(() => {}); };
  try {
    const bin = await buildBinary();
    const redis = await startRedis();
    cleanup.push(() => redis.stop());
    const database = await createDatabase();
    // Runs after the database is dropped (cleanup goes in reverse), so the role owns no grant any more.
    cleanup.push(() => { run([requireTool("psql"), "-X", "-q", "-c", "drop role if exists linkfort_monitor", adminUrl()]); });
    cleanup.push(() => dropDatabase(database.name));
    const direct = new URL(database.url);
    const proxy = tcpProxy({ host: direct.hostname, port: Number(direct.port) });
    await proxy.start();
    cleanup.push(() => proxy.stop());
    const viaProxy = new URL(database.url);
    viaProxy.port = String(proxy.port);
    const monitorDsn = createMonitorRole(database.url, database.name);

    const dir = mkdtempSync(join(tmpdir(), "linkfort-live-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const [publicPort, statusPort, ...instancePorts] = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
    const supervisor = spawnSupervisor(["run"], {
      DATABASE_URL: viaProxy.toString(), REDIS_URL: redis.url, INSTANCE_PORTS: instancePorts.join(","),
      PUBLIC_PORT: String(publicPort!), STATUS_PORT: String(statusPort!), SUPERVISOR_CADDY: "on", DATA_DIR: dir,
      BACKUP_DIR: join(dir, "backups"), BACKUP_SCHEDULE: "*/2 * * * * *", SERVICE_COMMAND: bin,
      SHUTDOWN_DRAIN_MS: "200", ACCESS_LOG: "false", LOG_LEVEL: "info",
    });
    let tree: number[] = [];
    cleanup.push(async () => {
      tree = [...new Set([...tree, ...supervisor.tree()])];
      supervisor.proc.kill("SIGTERM");
      await Promise.race([supervisor.proc.exited, Bun.sleep(20_000)]);
      for (const pid of [supervisor.proc.pid, ...tree]) if (alive(pid)) process.kill(pid, "SIGKILL");
    });
    const caddy = await supervisor.waitForLog("caddy started", 60_000);
    await supervisor.waitForLog("supervisor started", 60_000);
    tree = descendants(supervisor.proc.pid);
    await until("every instance ready", async () => (await Promise.all(instancePorts.map(isReady))).every(Boolean), 30_000);
    // The supervisor makes the first admin key before the instances start and shows it only in its banner.
    const adminKey = await supervisor.waitForBannerKey(10_000);
    if (!adminKey) throw new Error(`no admin key in the start banner:\n${supervisor.output().slice(-3000)}`);

    const pidOf = (port: number) => {
      const started = supervisor.logs().filter((l) => l.msg === "instance started" && l.port === port);
      if (started.length === 0) throw new Error(`no instance started on ${port}`);
      return Number(started.at(-1)!.pid);
    };
    return {
      instancePorts, statusPort: statusPort!, caddyAdminPort: Number(String(caddy.metrics).split(":")[1]), redis, proxy, monitorDsn, adminKey,
      spoolRoot: join(dir, "spool"),
      supervisor, pidOf, stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
