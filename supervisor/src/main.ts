#!/usr/bin/env bun
/**
 * @module linkfort-supervisor: `run` (default) | `status` | `rolling-restart` |
 * `backup now|list|verify FILE|restore FILE|check`. Settings come from the environment,
 * `--config FILE.toml` and `--flag value` (flags win, then the environment, then the file).
 */
import { ConfigError, describeSettings, parseFlags } from "../../service/src/lib/env.ts";
import { createLogger, type Logger } from "../../service/src/lib/logger.ts";
import { VERSION } from "../../service/src/lib/version.ts";
import { runBackupCommand } from "./backups/cli.ts";
import { readConfigFile } from "./config-file.ts";
import { loadSupervisorConfig, supervisorSettings, type SupervisorConfig } from "./config.ts";
import { printStatus, requestRollingRestart } from "./control.ts";
import { startDaemon } from "./daemon.ts";
import { openDatabase } from "./database.ts";
import { DRILL_USAGE, drillArgs, runDrillCommand } from "./drill/cli.ts";
import { runInOwnSession, stdinClosed } from "./session.ts";

const USAGE = `linkfort-supervisor: runs, watches, restarts and backs up linkfort instances

usage:
  linkfort-supervisor [run] [--flag value …]   run the daemon (default); Ctrl-C stops everything in order
  linkfort-supervisor status                   the running daemon's state as tables
  linkfort-supervisor rolling-restart          restart the instances one at a time, each ready before the next
                                               (reads the control token the daemon wrote: run as its user)
  linkfort-supervisor backup now|list|verify FILE|restore FILE [--into-live --yes]|check
  linkfort-supervisor drill --fault NAME | --all | --monkey MS   fault drills under load (needs DRILLS=on), see below
  linkfort-supervisor version                  the version baked into this binary
  linkfort-supervisor help

options: --config FILE.toml (settings keyed by their environment names)

${DRILL_USAGE}

settings (flag, environment variable, meaning):
${describeSettings(supervisorSettings)}
`;

const out = (line: string) => process.stdout.write(line + "\n");
const fail = (message: string, code = 2): never => {
  process.stderr.write(`linkfort-supervisor: ${message}\n`);
  process.exit(code);
};

/** Runs the daemon in this process until SIGINT/SIGTERM (or stdin closing, under `run`). */
async function daemon(config: SupervisorConfig, logger: Logger, exitWithStdin: boolean): Promise<void> {
  // A signal while the parts start aborts the start: what already runs stops in order, and a
  // PostgreSQL that is still starting is stopped too. No state ignores SIGTERM.
  const starting = new AbortController();
  let stop = (reason: string) => starting.abort(reason);
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  if (exitWithStdin) void stdinClosed().then(() => stop("stdin closed"));
  try {
    const running = await startDaemon({ config, env: process.env, logger, signal: starting.signal });
    stop = (reason) => { void running.stop(reason).then(() => process.exit(0), () => process.exit(1)); };
  } catch (error) {
    if (starting.signal.aborted) {
      logger.info("supervisor stopped while starting", { reason: String(starting.signal.reason) });
      process.exit(0);
    }
    // One sentence for the operator; the log record keeps the details for journald.
    logger.error("supervisor failed to start", { error });
    fail(error instanceof Error ? error.message : String(error), 1);
  }
}

async function backup(config: SupervisorConfig, logger: Logger, args: string[]): Promise<number> {
  // `list` and `help` only read BACKUP_DIR; the rest need the database (DATABASE_URL, or the embedded one).
  const needsDatabase = !["list", "help", "--help", "-h", undefined].includes(args[0]);
  const database = needsDatabase ? await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, port: config.embeddedPgPort, logger }) : null;
  try {
    return await runBackupCommand(args, { config, databaseUrl: database?.url ?? config.databaseUrl ?? "", logger, out });
  } finally {
    await database?.stop();
  }
}

async function loadConfig(flags: Map<string, string>): Promise<SupervisorConfig> {
  const file = flags.get("config");
  flags.delete("config");
  const fromFile = file ? await readConfigFile(file).catch((e: Error) => fail(`--config ${e.message}`)) : {};
  try {
    return loadSupervisorConfig({ ...fromFile, ...process.env }, flags);
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
}

/** `backup` passes its arguments through, except `--config FILE`, which is ours. */
function backupArgs(args: string[]): { flags: Map<string, string>; rest: string[] } {
  const at = args.indexOf("--config");
  if (at < 0 || args[at + 1] === undefined) return { flags: new Map(), rest: args };
  return { flags: new Map([["config", args[at + 1]!]]), rest: [...args.slice(0, at), ...args.slice(at + 2)] };
}

async function main(argv: string[]): Promise<void> {
  const first = argv[0];
  if (first === "help" || first === "--help" || first === "-h") { out(USAGE); return; }
  if (first === "version" || first === "--version") { out(VERSION); return; }
  const command = first === undefined || first.startsWith("--") ? "run" : first;
  const args = command === first ? argv.slice(1) : argv;
  if (!["run", "daemon", "status", "rolling-restart", "backup", "drill"].includes(command)) fail(`unknown command "${command}"\n\n${USAGE}`);

  // `backup` keeps its own arguments; every other command takes settings as flags.
  const { flags, rest } = command === "backup" ? backupArgs(args) : command === "drill" ? drillArgs(args) : parseFlags(args);
  const exitWithStdin = flags.delete("exit-with-stdin");
  const config = await loadConfig(flags);
  if (command !== "backup" && command !== "drill" && rest.length > 0) fail(`unexpected arguments: ${rest.join(" ")}`);
  const logger = createLogger(["run", "daemon"].includes(command) ? config.logLevel : "warn", { service: "linkfort-supervisor" });

  switch (command) {
    case "run":
      // Under systemd there is no terminal process group to shield from, and nothing to spawn.
      if (config.runner === "process") process.exit(await runInOwnSession(args, process.env));
      return daemon(config, logger, false);
    case "daemon":
      return daemon(config, logger, exitWithStdin);
    case "status":
      process.exit(await printStatus(config, out));
    case "rolling-restart":
      process.exit(await requestRollingRestart(config, out));
    case "backup":
      process.exit(await backup(config, logger, rest));
    case "drill":
      process.exit(await runDrillCommand(config, rest, out));
  }
}

await main(process.argv.slice(2));
