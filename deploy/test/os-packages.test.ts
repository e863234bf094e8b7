/**
 * deploy/os-packages.sh, the setup step `npm start` and `npm test` run first: a no-op when
 * everything is there, and as a user who cannot install, the exact apt-get line and a failure,
 * never a half-install. Runs the real script from a copy beside a list of our own.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmod, copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const NOBODY = 65534;
let dir: string;

/**
 * A user who cannot install: `nobody`, entered with setpriv (as root, or through a password-free
 * sudo); a user without such sudo already is one.
 */
function withoutInstallRights(argv: string[]): string[] {
  const setpriv = ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", ...argv];
  if (process.getuid?.() === 0) return setpriv;
  const sudo = Bun.which("sudo") !== null && Bun.spawnSync(["sudo", "-n", "true"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
  return sudo ? ["sudo", "-n", ...setpriv] : argv;
}

function run(profile: string, opts: { asNobody?: boolean } = {}) {
  const argv = ["bash", join(dir, "os-packages.sh"), profile];
  const proc = Bun.spawnSync(opts.asNobody ? withoutInstallRights(argv) : argv, {
    env: { PATH: "/usr/local/bin:/usr/bin:/bin" }, stdout: "pipe", stderr: "pipe",
  });
  return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "linkfort-os-packages-"));
  await chmod(dir, 0o755);
  await copyFile(join(ROOT, "deploy/os-packages.sh"), join(dir, "os-packages.sh"));
  await writeFile(join(dir, "os-packages.txt"), [
    "# package  command  profiles",
    "coreutils               ls                               start test",
    "linkfort-no-such-pkg    linkfort-no-such-command         test",
  ].join("\n") + "\n");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("deploy/os-packages.sh", () => {
  test("everything present: exit 0 and not a word", () => {
    const r = run("start");
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  test("a user without sudo gets the exact install line, exit 1, and nothing is installed", () => {
    const r = run("test", { asNobody: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("sudo apt-get update && sudo apt-get install -y --no-install-recommends linkfort-no-such-pkg\n");
    expect(r.stderr).not.toContain("coreutils");
  });

  test("an unknown profile is a usage error", () => {
    const r = run("deploy");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("usage:");
  });

  test("the repository's list names every package once, each with a command and a known profile", async () => {
    const rows = (await Bun.file(join(ROOT, "deploy/os-packages.txt")).text()).split("\n")
      .filter((line) => line.trim() !== "" && !line.startsWith("#")).map((line) => line.trim().split(/\s+/));
    const names = rows.map((r) => r[0]);
    expect(new Set(names).size).toBe(names.length);
    for (const [name, command, ...profiles] of rows) {
      expect({ name, command: typeof command, profiles: profiles.length > 0 && profiles.every((p) => p === "start" || p === "test") })
        .toEqual({ name, command: "string", profiles: true });
    }
    expect(names).toEqual(expect.arrayContaining(["caddy", "postgresql-client", "redis-server"]));
  });
});
