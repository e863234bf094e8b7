/**
 * Everything a run needs, started on random loopback ports and stopped by PID at the end:
 * PostgreSQL (embedded, or DATABASE_URL), redis-server, linkfort instances (compiled binary or
 * source), Caddy with the repo's Caddyfile in front of three, and the same for the baseline.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedPostgres, ensureDatabase } from "../../service/src/lib/embedded-postgres.ts";
import { INSTANCE_RUNTIME_ENV } from "../../service/src/lib/runtime-env.ts";
import { requireTool } from "../../service/test/tools.ts";
import { freePort, onCleanup, spawnChild, waitHttp, type Child } from "./procs.ts";

export const ROOT = join(import.meta.dir, "../..");

export interface Target {
  name: string;
  base: string;
  /** PIDs whose RSS the report shows (the instances behind this target). */
  pids: number[];
}

export async function workDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "linkfort-bench-"));
  // As root, embedded PostgreSQL runs as the `postgres` user, which must reach its data dir below.
  await chmod(dir, 0o755);
  // Registered first, so it runs last: after the servers using it stopped. Each run left about
  // 120 MB behind (44 of them filled /tmp on the shared machine). BENCH_KEEP=1 keeps it to look at.
  if (process.env.BENCH_KEEP !== "1") onCleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function startPostgres(dir: string): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const port = await freePort();
  const pg = await startEmbeddedPostgres({ dir: join(dir, "pg"), port, ephemeral: true });
  onCleanup(() => pg.stop());
  await ensureDatabase(pg.adminUrl, "linkfort_bench");
  return pg.urlFor("linkfort_bench");
}

export async function startRedis(): Promise<string> {
  const bin = requireTool("redis-server");
  const port = await freePort();
  const child = spawnChild("redis", [bin, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
  const deadline = Date.now() + 10_000;
  while (!(await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then((s) => { s.end(); return true; }, () => false))) {
    if (Date.now() > deadline || child.proc.exitCode !== null) throw new Error("redis-server did not start");
    await Bun.sleep(20);
  }
  return `redis://127.0.0.1:${port}`;
}

/** The linkfort command line: the binary built by `npm run build`'s command, or the source. */
export async function buildLinkfort(dir: string, source: boolean): Promise<string[]> {
  const bun = process.execPath;
  if (source) return [bun, join(ROOT, "service/src/main.ts")];
  const pkg = (await Bun.file(join(ROOT, "package.json")).json()) as { scripts: Record<string, string> };
  const out = join(dir, "linkfort");
  const command = pkg.scripts.build!.replace("--outfile dist/linkfort", `--outfile ${out}`);
  const proc = Bun.spawn(["sh", "-c", command], {
    cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, PATH: `${ROOT}/node_modules/.bin:${process.env.PATH}` },
  });
  if ((await proc.exited) !== 0) throw new Error(`build failed: ${await new Response(proc.stderr).text()}`);
  return [out];
}

/** Runs a one-shot linkfort command (migrate, keys, import) and returns its stdout. */
export async function linkfortCli(cmd: string[], args: string[], env: Record<string, string>): Promise<string> {
  const proc = Bun.spawn([...cmd, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if (code !== 0 && code !== 1) throw new Error(`linkfort ${args.join(" ")} exited ${code}: ${err}${out}`);
  return out;
}

export async function adminKey(cmd: string[], env: Record<string, string>): Promise<string> {
  const out = await linkfortCli(cmd, ["keys", "create", "--name", `bench-${Date.now()}`, "--scope", "admin"], env);
  const key = /key: (\S+)/.exec(out)?.[1];
  if (!key) throw new Error(`no key in: ${out}`);
  return key;
}

export async function startInstances(cmd: string[], n: number, env: Record<string, string>): Promise<{ children: Child[]; ports: number[] }> {
  const children: Child[] = [];
  const ports: number[] = [];
  // The click spools in a folder of this run, not in the checkout's ./data, where the next run
  // (on another database) would adopt them.
  const spools = await mkdtemp(join(tmpdir(), "linkfort-bench-spool-"));
  onCleanup(() => rm(spools, { recursive: true, force: true }));
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    const child = spawnChild(`linkfort-${i + 1}`, [...cmd, "serve"], {
      env: { ...INSTANCE_RUNTIME_ENV, HOST: "127.0.0.1", PORT: String(port), EXIT_WITH_STDIN: "true", CLICK_SPOOL_DIR: spools, ...env },
      quiet: process.env.BENCH_VERBOSE !== "1",
    });
    children.push(child);
    ports.push(port);
  }
  await Promise.all(ports.map((p, i) => waitHttp(`http://127.0.0.1:${p}/ready`, children[i], 60_000)));
  return { children, ports };
}

export async function startBaselines(n: number): Promise<{ children: Child[]; ports: number[] }> {
  const children: Child[] = [];
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    children.push(spawnChild(`baseline-${i + 1}`, [process.execPath, join(ROOT, "bench/baseline-server.ts")], { env: { PORT: String(port) } }));
    ports.push(port);
  }
  await Promise.all(ports.map((p, i) => waitHttp(`http://127.0.0.1:${p}/ready`, children[i])));
  return { children, ports };
}

/** Caddy with the repository's Caddyfile, as the supervisor runs it (caddy.ts), on free ports. */
export async function startCaddy(dir: string, name: string, upstreams: number[]): Promise<{ child: Child; port: number }> {
  const bin = requireTool("caddy");
  const [port, admin, metrics] = [await freePort(), await freePort(), await freePort()];
  const state = join(dir, `caddy-${name}`);
  const child = spawnChild(`caddy-${name}`, [bin, "run", "--config", join(ROOT, "Caddyfile"), "--adapter", "caddyfile"], {
    env: {
      LINKFORT_UPSTREAMS: upstreams.map((p) => `127.0.0.1:${p}`).join(" "),
      LINKFORT_PUBLIC_PORT: String(port),
      LINKFORT_CADDY_ADMIN: `127.0.0.1:${admin}`,
      LINKFORT_CADDY_METRICS: `127.0.0.1:${metrics}`,
      XDG_CONFIG_HOME: join(state, "config"),
      XDG_DATA_HOME: join(state, "data"),
      HOME: state,
    },
  });
  await waitHttp(`http://127.0.0.1:${port}/ready`, child, 15_000);
  // Health checks run every 250 ms; wait until every upstream has passed one.
  await Bun.sleep(600);
  return { child, port };
}
