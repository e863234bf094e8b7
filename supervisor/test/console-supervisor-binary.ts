/**
 * The compiled `linkfort-supervisor`, built once per run with the same command as `npm run
 * build:supervisor` into a temporary folder: the console's test runs the binary operators get,
 * so the page and its assets are proven to be inside it.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./supervisor-process.ts";

let built: Promise<string> | undefined;

export function buildSupervisorBinary(): Promise<string> {
  built ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "linkfort-supervisor-bin-"));
    const pkg = (await Bun.file(join(ROOT, "package.json")).json()) as { scripts: Record<string, string> };
    const out = join(dir, "linkfort-supervisor");
    const command = pkg.scripts["build:supervisor"]!.replace("--outfile dist/linkfort-supervisor", `--outfile ${out}`);
    const proc = Bun.spawn(["sh", "-c", command], { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, PATH: `${ROOT}/node_modules/.bin:${process.env.PATH}` } });
    if ((await proc.exited) !== 0) throw new Error(`supervisor build failed: ${await new Response(proc.stderr).text()}`);
    return out;
  })();
  return built;
}
