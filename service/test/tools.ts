/**
 * The operating-system commands tests run (caddy, redis-server, promtool, …). A missing one
 * fails the test that needs it, never skips it, and the failure says how to get it: the package
 * comes from deploy/os-packages.txt, the one list `npm test` installs from. Call `requireTool`
 * inside a test or a beforeAll, not at a file's top level: then a missing command is a failed
 * test and the rest of the run goes on.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

const LIST = join(import.meta.dir, "../../deploy/os-packages.txt");
const INSTALL = "bash deploy/os-packages.sh test";
// Debian puts some tools in /usr/sbin, which is not on every user's PATH (os-packages.sh looks there too).
const SEARCH_PATH = `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/local/sbin:/usr/sbin:/sbin`;
// Commands the list does not name but that come in the package of one it does.
const SAME_PACKAGE_AS: Record<string, string> = { psql: "pg_dump" };

/** command → package, from deploy/os-packages.txt (a package's own name counts as a command too). */
function packages(): Map<string, string> {
  const map = new Map<string, string>();
  let text = "";
  try { text = readFileSync(LIST, "utf8"); } catch { return map; }
  for (const line of text.split("\n")) {
    const [pkg, command] = line.trim().split(/\s+/);
    if (!pkg || pkg.startsWith("#") || !command) continue;
    map.set(command, pkg);
    if (!map.has(pkg)) map.set(pkg, pkg);
  }
  return map;
}

/** The Debian package that provides `command`, when deploy/os-packages.txt says. */
export function packageOf(command: string): string | undefined {
  const map = packages();
  return map.get(command) ?? map.get(SAME_PACKAGE_AS[command] ?? "");
}

/** Why `command` is missing and how to install it: the message a test fails with. */
export function missingToolMessage(command: string): string {
  const pkg = packageOf(command);
  return pkg
    ? `${command} is not on PATH: run "${INSTALL}" (or: apt-get install ${pkg})`
    : `${command} is not on PATH, and deploy/os-packages.txt names no package for it: add it there, then run "${INSTALL}"`;
}

/** The absolute path of `command`; throws (naming the command and the install line) when it is missing. */
export function requireTool(command: string): string {
  const path = Bun.which(command, { PATH: SEARCH_PATH });
  if (!path) throw new Error(missingToolMessage(command));
  return path;
}

/**
 * What runs a command as root for a test that needs it (systemd-nspawn, mount): nothing as root,
 * `sudo -n` for a user with password-free sudo; otherwise a failure saying so, naming `what`.
 */
export function rootPrefix(what: string): string[] {
  if (process.getuid?.() === 0) return [];
  const sudo = Bun.which("sudo", { PATH: SEARCH_PATH });
  if (sudo && Bun.spawnSync([sudo, "-n", "true"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" }).exitCode === 0) return [sudo, "-n"];
  throw new Error(`needs root for ${what}: run the tests as root, or give this user password-free sudo`);
}
