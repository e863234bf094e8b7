/**
 * @module Why `run` starts the daemon as a child in its own session. Ctrl-C in a terminal
 * signals the whole foreground process group: PostgreSQL, Caddy and the instances would get
 * SIGINT at the same moment as the supervisor, and PostgreSQL would shut down before the
 * instances had drained and written their clicks. In its own session (setsid) the daemon and
 * everything it starts see only what this front process forwards, and the daemon stops them
 * in order. If the front dies (even by SIGKILL), the daemon's stdin reaches end of file and it
 * stops everything the same way.
 */

const COMPILED = Bun.main.startsWith("/$bunfs/");

/** Runs `daemon ARGS --exit-with-stdin` in a new session, forwards signals, returns its exit code. */
export async function runInOwnSession(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const self = COMPILED ? [process.execPath] : [process.execPath, Bun.main];
  const child = Bun.spawn([...self, "daemon", "--exit-with-stdin", ...args], {
    detached: true, env, stdin: "pipe", stdout: "inherit", stderr: "inherit",
  });
  const forward = (signal: NodeJS.Signals) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  process.on("SIGINT", forward("SIGINT"));
  process.on("SIGTERM", forward("SIGTERM"));
  // A closed terminal: stop as for SIGTERM.
  process.on("SIGHUP", forward("SIGTERM"));
  const code = await child.exited;
  return child.signalCode ? 1 : code;
}

/** Resolves when stdin reaches end of file: whoever held its other end is gone. */
export async function stdinClosed(): Promise<void> {
  for await (const _ of Bun.stdin.stream()) { /* nothing is sent; only the end matters */ }
}
