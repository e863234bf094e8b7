/**
 * @module The test VM from the test's side: deploy/test/bed.sh (systemd-nspawn with a real
 * systemd) driven from bun. Every call runs bed.sh with this bed's BED/BED_NAME, so two beds
 * (another engineer's, another test run) never share a tree or a cgroup.
 *
 * bed.sh needs root. As root the test runs it directly; as another user, through `sudo -n`
 * with the BED* variables passed on its command line (sudo resets the environment). The test
 * process itself writes only into the bed's shared folder (release tarballs, bun, the load
 * script), which it creates first, so it owns it; what bed.sh and the guest make as root is
 * removed as root (`destroy`, then `remove`).
 */
import { existsSync, mkdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { rootPrefix } from "../../service/test/tools.ts";

const BED_SH = join(import.meta.dir, "bed.sh");
const SBIN_PATH = `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/local/sbin:/usr/sbin:/sbin`;

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Bed {
  /** Host folder shared with the guest as /shared. */
  shared: string;
  /** bed.sh with these arguments; output collected. */
  bedSh(args: string[]): Promise<CommandResult>;
  /** `bash -c SCRIPT` inside the guest, as root; never throws. */
  exec(script: string): Promise<CommandResult>;
  /** Like exec, but throws (with the output) unless the script exits 0; returns stdout trimmed. */
  sh(script: string): Promise<string>;
  /** `bash -c SCRIPT` as a transient unit of the guest, left running; stdout is piped. */
  spawn(script: string): Subprocess<"ignore", "pipe", "pipe">;
  /** bed.sh destroy, then the bed's folder with whatever is left in it (as root where needed). */
  remove(): Promise<void>;
}

/** The host commands bed.sh needs (the test requires each with service/test/tools.ts requireTool). */
export const HOST_TOOLS = ["systemd-nspawn", "mmdebstrap", "nsenter", "tar"] as const;


/**
 * `env`: more of bed.sh's variables (BED_ROOT, BED_BRIDGE… : cluster-bed.ts); `shared`: the host
 * folder that is /shared inside, when it is not the bed's own (BED_SHARED).
 */
export function createBed(opts: { dir: string; name: string; monitoring: boolean; env?: Record<string, string>; shared?: string }): Bed {
  const asRoot = rootPrefix("systemd-nspawn");
  const shared = opts.shared ?? join(opts.dir, "shared");
  // Explicit, because sudo starts its command with a reset environment.
  const bedEnv = {
    PATH: SBIN_PATH, BED: opts.dir, BED_NAME: opts.name, BED_MONITORING: opts.monitoring ? "1" : "",
    ...(opts.shared ? { BED_SHARED: opts.shared } : {}), ...opts.env,
  };
  const env = { ...process.env, ...bedEnv };
  const argv = (args: string[]) => [...asRoot, "env", ...Object.entries(bedEnv).map(([k, v]) => `${k}=${v}`), BED_SH, ...args];
  // Made by the test's own user before bed.sh runs, so the test can write the releases into it.
  mkdirSync(shared, { recursive: true });

  const bedSh = async (args: string[]): Promise<CommandResult> => {
    const proc = Bun.spawn(argv(args), { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  };
  const exec = (script: string) => bedSh(["exec", "bash", "-c", script]);
  return {
    shared,
    bedSh,
    exec,
    async sh(script) {
      const result = await exec(script);
      if (result.code !== 0) throw new Error(`guest command failed (exit ${result.code}): ${script}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
      return result.stdout.trim();
    },
    spawn(script) {
      return Bun.spawn(argv(["run", "bash", "-c", script]), { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    },
    async remove() {
      const destroyed = await bedSh(["destroy"]);
      if (destroyed.code !== 0) console.error(`bed.sh destroy: ${destroyed.stdout}\n${destroyed.stderr}`);
      // Whatever destroy left (a failed build, root-owned files the guest wrote into /shared).
      if (!existsSync(opts.dir)) return;
      if (asRoot.length === 0) return rm(opts.dir, { recursive: true, force: true });
      const proc = Bun.spawn([...asRoot, "rm", "-rf", "--one-file-system", opts.dir], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
      const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
      if (code !== 0) throw new Error(`could not remove ${opts.dir}: ${stderr}`);
    },
  };
}

/** Reads a child's stdout line by line and resolves when a line matches (or rejects when it ends). */
export function waitForLine(stream: ReadableStream<Uint8Array>, pattern: RegExp, collected: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const decoder = new TextDecoder();
    let buffer = "";
    let found = false;
    void (async () => {
      for await (const chunk of stream) {
        buffer += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          collected.push(line);
          if (!found && pattern.test(line)) { found = true; resolve(line); }
        }
      }
      if (buffer) collected.push(buffer);
      if (!found) reject(new Error(`output ended without a line matching ${pattern}: ${collected.join("\n")}`));
    })();
  });
}
