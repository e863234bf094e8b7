/**
 * Runs the Debian tools of the monitoring tests (each found with requireTool from
 * service/test/tools.ts, which fails the test, naming the package, when one is missing).
 */

/** Runs a command to its end; stdout and stderr together, for failure messages. */
export function run(argv: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): { code: number; output: string } {
  const proc = Bun.spawnSync(argv, { cwd: opts.cwd, env: opts.env ?? (process.env as Record<string, string>), stdout: "pipe", stderr: "pipe" });
  return { code: proc.exitCode, output: proc.stdout.toString() + proc.stderr.toString() };
}
