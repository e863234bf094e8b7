/**
 * @module Release tarballs for the VM test: built with `npm run release` (deploy/release.sh), and
 * one deliberately broken release made from a good one.
 */
import { copyFile, mkdtemp, readdir, rename, rm, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");

async function run(argv: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<string> {
  const proc = Bun.spawn(argv, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${argv.join(" ")} failed (exit ${code}):\n${stdout}\n${stderr}`);
  return stdout;
}

export async function packageVersion(): Promise<string> {
  return ((await Bun.file(join(ROOT, "package.json")).json()) as { version: string }).version;
}

/**
 * `npm run release` (with LINKFORT_VERSION when `version` is given), copied into `outDir` at once:
 * dist/ is shared with whoever else builds in this checkout.
 */
export async function buildRelease(outDir: string, version?: string): Promise<{ version: string; tarball: string }> {
  const v = version ?? (await packageVersion());
  await run(["npm", "run", "release"], { env: version ? { LINKFORT_VERSION: version } : {} });
  const name = `linkfort-${v}-linux-x64.tar.gz`;
  const tarball = join(outDir, name);
  await copyFile(join(ROOT, "dist", name), tarball);
  return { version: v, tarball };
}

/** Removes what `npm run release` left in dist/ for a version only this test builds. */
export async function removeReleaseOutput(version: string): Promise<void> {
  await rm(join(ROOT, "dist", `linkfort-${version}`), { recursive: true, force: true });
  await rm(join(ROOT, "dist", `linkfort-${version}-linux-x64.tar.gz`), { force: true });
}

/**
 * A release whose `linkfort serve` exits 1 at once while `version` and `migrate` work: it passes
 * every check before the switch, so only the rolling restart can find it broken.
 */
export async function buildBrokenRelease(good: string, version: string, outDir: string): Promise<{ version: string; tarball: string }> {
  const work = await mkdtemp(join(tmpdir(), "linkfort-broken-"));
  try {
    await run(["tar", "-xzf", good, "-C", work]);
    const [top] = await readdir(work);
    const dir = join(work, `linkfort-${version}`);
    await rename(join(work, top!), dir);
    await writeFile(join(dir, "VERSION"), `${version}\n`);
    await rename(join(dir, "linkfort"), join(dir, "linkfort.real"));
    await writeFile(join(dir, "linkfort"), [
      "#!/bin/sh",
      "# Broken on purpose (deploy/test/vm.test.ts): instances never start.",
      `case "\${1:-serve}" in`,
      `  serve|--*) echo "linkfort ${version}: broken on purpose" >&2; exit 1 ;;`,
      `  version) echo "${version}"; exit 0 ;;`,
      "esac",
      `exec "$(dirname "$0")/linkfort.real" "$@"`,
      "",
    ].join("\n"));
    await chmod(join(dir, "linkfort"), 0o755);
    await run(["sh", "-c", "find . -type f ! -name SHA256SUMS | sed 's|^\\./||' | sort | xargs sha256sum > SHA256SUMS"], { cwd: dir });
    const tarball = join(outDir, `linkfort-${version}-linux-x64.tar.gz`);
    // gzip -1: a quarter of the default level's CPU time for 100 MB of binary, nearly the same size.
    await run(["tar", "-I", "gzip -1", "-cf", tarball, "-C", work, `linkfort-${version}`]);
    return { version, tarball };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
