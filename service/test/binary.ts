/**
 * The compiled `dist/linkfort` binary as a child process: built once per test run into a
 * temporary folder with nothing beside it, so a test proves the binary needs no node_modules.
 */
import { mkdtemp, copyFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "./ports.ts";
import { captureOutput } from "./output.ts";

const ROOT = join(import.meta.dir, "../..");
let built: Promise<string> | undefined;

/** Builds the binary with the same command as `npm run build` and copies it into an empty folder. */
export function buildBinary(): Promise<string> {
  built ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "linkfort-bin-"));
    const pkg = (await Bun.file(join(ROOT, "package.json")).json()) as { scripts: Record<string, string> };
    const command = pkg.scripts.build!.replace("--outfile dist/linkfort", `--outfile ${join(dir, "build", "linkfort")}`);
    const proc = Bun.spawn(["sh", "-c", command], { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, PATH: `${ROOT}/node_modules/.bin:${process.env.PATH}` } });
    if ((await proc.exited) !== 0) throw new Error(`build failed: ${await new Response(proc.stderr).text()}`);
    const alone = join(dir, "linkfort");
    await copyFile(join(dir, "build", "linkfort"), alone);
    await rm(join(dir, "build"), { recursive: true });
    return alone;
  })();
  return built;
}

export interface RunningBinary {
  proc: Subprocess<"pipe", "pipe", "pipe">;
  port: number;
  base: string;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

export async function startBinary(bin: string, env: Record<string, string>): Promise<RunningBinary> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const proc = Bun.spawn([bin], {
    cwd: join(bin, ".."),
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "info", ...env },
    // A pipe the test holds: closing it is how a dead supervisor looks to EXIT_WITH_STDIN.
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  const output = captureOutput(proc.stdout, proc.stderr);
  const waitFor = async (pattern: RegExp, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(output());
      if (m) return m;
      if (proc.exitCode !== null) throw new Error(`binary exited (${proc.exitCode}) before ${pattern}:\n${output()}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${output()}`);
      await Bun.sleep(25);
    }
  };
  return {
    proc, port, base: `http://127.0.0.1:${port}`, output, waitFor,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null) proc.kill(signal);
      return proc.exited;
    },
  };
}
