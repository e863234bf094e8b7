/**
 * @module Runs one PostgreSQL client tool and hands back its exit code and output as a value:
 * a tool that fails (or cannot start) is an expected outcome here, never a throw.
 */
export interface ToolRun {
  /** Exit code; 127 when the program could not be started, 143 when aborted. */
  code: number;
  stdout: string;
  /** The last few KB only: enough to say why, bounded however chatty the tool is. */
  stderr: string;
}

export interface ToolOptions {
  /** Added to the inherited environment (PATH, locale, PGSSL* the operator set for libpq). */
  env?: Record<string, string>;
  /** Aborting kills the tool (the daemon is stopping). */
  signal?: AbortSignal;
}

const STDERR_TAIL = 4_096;

export async function runTool(cmd: string[], opts: ToolOptions = {}): Promise<ToolRun> {
  if (opts.signal?.aborted) return { code: 143, stdout: "", stderr: "aborted before start" };
  let proc: ReturnType<typeof Bun.spawn<"ignore", "pipe", "pipe">>;
  try {
    proc = Bun.spawn(cmd, {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, LC_ALL: "C", ...opts.env },
    });
  } catch (err) {
    return { code: 127, stdout: "", stderr: `could not start ${cmd[0]}: ${(err as Error).message}` };
  }
  const kill = () => proc.kill("SIGTERM");
  opts.signal?.addEventListener("abort", kill, { once: true });
  try {
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    return { code, stdout, stderr: tail(stderr.trim()) };
  } finally {
    opts.signal?.removeEventListener("abort", kill);
  }
}

/** One line for logs and alerts: the tool's own words, or its exit code when it said nothing. */
export function describeFailure(name: string, run: ToolRun): string {
  const said = run.stderr.split("\n").filter(Boolean).slice(-3).join(" | ");
  return `${name} exited ${run.code}${said ? `: ${said}` : ""}`;
}

function tail(text: string): string {
  return text.length > STDERR_TAIL ? `…${text.slice(-STDERR_TAIL)}` : text;
}
