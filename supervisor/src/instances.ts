/**
 * @module Where the instances run and how they are reached. systemd: `linkfort@PORT` units on
 * their own ports. process: spawned children; with Caddy, each on its own port behind Caddy on
 * the public port; without Caddy, all on the public port with reusePort (the kernel spreads
 * connections), which also means a probe reaches whichever instance the kernel picks, so only
 * crashes are caught per instance in that mode, not hangs.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Logger } from "../../service/src/lib/logger.ts";
import type { SupervisorConfig } from "./config.ts";
import type { RunningCaddy } from "./proxy/caddy.ts";
import { keepCaddyRunning } from "./proxy/caddy-keeper.ts";
import { createProcessRunner, type InstanceOutputSink } from "./runners/process.ts";
import type { Runner } from "./runners/runner.ts";
import { createSystemdRunner } from "./runners/systemd.ts";

const ROOT = resolve(import.meta.dir, "../..");
// `bun build --compile` puts the entry under this virtual root; no source tree is beside it.
const COMPILED = Bun.main.startsWith("/$bunfs/");

// The service's longest drain plus its in-flight wait (SHUTDOWN_TIMEOUT_MS, default 15 s), and a margin.
const STOP_MARGIN_MS = 20_000;

export interface InstancesOptions {
  config: SupervisorConfig;
  env: Record<string, string | undefined>;
  databaseUrl: string;
  /** Caddy's binary when Caddy goes in front (process runner), else null. */
  caddyBin: string | null;
  /** Caddy's output, and the instances' unless `instanceOutput` takes theirs. */
  output: "inherit" | "ignore";
  /** Takes the instances' output (the console's live log, which passes it on); they then log JSON. */
  instanceOutput?: InstanceOutputSink;
  logger: Logger;
}

export interface Instances {
  runner: Runner;
  /**
   * Process runner: migrates the database and makes the first admin key before any instance
   * starts, and returns the key when this call created it (for the banner). Otherwise undefined.
   */
  bootstrapAdminKey(): Promise<string | undefined>;
  readyUrl: (port: number) => string;
  /** What clients use: Caddy's or the shared port (process runner); null under systemd. */
  publicUrl: string | null;
  caddy?: RunningCaddy;
}

/**
 * argv of one instance: SERVICE_COMMAND, else the binary beside a compiled supervisor, else (in a
 * source checkout) the source itself: a forgotten old dist/linkfort must never win over the code
 * being run. Point SERVICE_COMMAND at dist/linkfort to supervise a build.
 */
export function serviceCommand(configured: string | undefined): string[] {
  if (configured) {
    const path = configured.includes("/") ? resolve(configured) : Bun.which(configured) ?? configured;
    return path.endsWith(".ts") ? [process.execPath, path, "serve"] : [path, "serve"];
  }
  if (COMPILED) return [join(dirname(process.execPath), "linkfort"), "serve"];
  return [process.execPath, join(ROOT, "service/src/main.ts"), "serve"];
}

/** The repository's Caddyfile: in the working directory, else beside the source tree. */
function caddyfilePath(): string {
  const here = resolve("Caddyfile");
  return existsSync(here) || COMPILED ? here : join(ROOT, "Caddyfile");
}

export async function createInstances(opts: InstancesOptions): Promise<Instances> {
  const { config, logger } = opts;
  const host = config.instanceHost;
  const ownPort = (port: number) => `http://${host}:${port}/ready`;
  if (config.runner === "systemd") {
    return {
      runner: createSystemdRunner({ unitPrefix: config.systemdUnit, logger }), readyUrl: ownPort, publicUrl: null,
      bootstrapAdminKey: async () => undefined,
    };
  }

  const shared = opts.caddyBin === null;
  if (!shared && config.ports.includes(config.publicPort)) {
    throw new Error(`PUBLIC_PORT=${config.publicPort} is also in INSTANCE_PORTS; Caddy and an instance cannot both listen on it`);
  }
  const caddy = shared ? undefined : await keepCaddyRunning({
    bin: opts.caddyBin!, caddyfile: caddyfilePath(), publicPort: config.publicPort,
    upstreams: config.ports.map((p) => `${host}:${p}`),
    dataDir: config.dataDir, baseEnv: opts.env, output: opts.output, logger,
  });
  if (shared) logger.warn("caddy not used: instances share the public port with reusePort; hung instances cannot be told apart", { public_port: config.publicPort });
  const publicUrl = `http://${caddy ? "127.0.0.1" : host}:${config.publicPort}`;
  const command = serviceCommand(config.serviceCommand);
  logger.info("instance command", { command: command.join(" ") });
  const runner = createProcessRunner({
    command, baseEnv: opts.env, host, databaseUrl: opts.databaseUrl,
    listenPort: shared ? () => config.publicPort : undefined,
    drainMs: config.drainMs, accessLog: config.instanceAccessLog, logLevel: config.logLevel,
    // A --log-format or --no-color flag reaches the instances as the environment would.
    // Captured output is parsed, so it must be JSON; the sink renders it for a terminal itself.
    // PUBLIC_URL (the origin QR codes carry) is where this stack answers, unless the operator set it.
    extraEnv: () => ({
      LOG_FORMAT: opts.instanceOutput ? "json" : config.logFormat, ...(config.noColor ? { NO_COLOR: "1" } : {}),
      ...(opts.env.PUBLIC_URL ? {} : { PUBLIC_URL: publicUrl }),
    }),
    seed: config.seed ? resolve(config.seed) : undefined,
    stopTimeoutMs: config.drainMs + STOP_MARGIN_MS, output: opts.instanceOutput ?? opts.output, logger,
  });
  return {
    runner, caddy,
    bootstrapAdminKey: () => bootstrapAdminKey(command, opts),
    readyUrl: shared ? () => ownPort(config.publicPort) : ownPort,
    publicUrl,
  };
}

/**
 * `linkfort keys bootstrap` with the instances' command and database: it migrates first, under
 * the same advisory locks the instances take, and prints the key alone on stdout when it made one.
 * The key comes back over a pipe, never through a log record. A failure only costs the banner its
 * key: the instances then make it themselves and print it on stderr.
 */
async function bootstrapAdminKey(serveCommand: string[], opts: InstancesOptions): Promise<string | undefined> {
  // The service's own setting: with LINKFORT_AUTH=open no key is checked, so none is made.
  if (opts.env.LINKFORT_AUTH === "open") return undefined;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.env)) if (v !== undefined) env[k] = v;
  const proc = Bun.spawn([...serveCommand.slice(0, -1), "keys", "bootstrap"], {
    env: { ...env, DATABASE_URL: opts.databaseUrl }, stdin: "ignore", stdout: "pipe", stderr: "pipe",
  });
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if (code !== 0) {
    opts.logger.warn("could not make the first admin key before the instances; they will", { exit_code: code, stderr: err.trim().slice(-500) });
    return undefined;
  }
  return /^lf_\w+$/m.exec(out)?.[0];
}
