/**
 * Caddy in front of the supervisor's status port, as the runbook exposes the console: a plain
 * reverse proxy on a random loopback port (no TLS here), its admin API off, its state in a
 * temporary folder.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../service/test/ports.ts";
import { requireTool } from "../../service/test/tools.ts";
import { waitFor } from "../../service/test/wait.ts";

export async function startConsoleProxy(statusPort: number): Promise<{ url: string; stop(): Promise<void> }> {
  const caddy = requireTool("caddy");
  const dir = await mkdtemp(join(tmpdir(), "linkfort-console-caddy-"));
  const port = await freePort();
  const config = join(dir, "Caddyfile");
  await writeFile(config, `{
\tadmin off
\tauto_https off
}
http://127.0.0.1:${port} {
\tbind 127.0.0.1
\treverse_proxy 127.0.0.1:${statusPort}
}
`);
  const proc = Bun.spawn([caddy, "run", "--config", config, "--adapter", "caddyfile"], {
    env: { PATH: process.env.PATH ?? "", HOME: dir, XDG_DATA_HOME: join(dir, "data"), XDG_CONFIG_HOME: join(dir, "config") },
    stdout: "ignore", stderr: "pipe",
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor("Caddy in front of the console", async () => {
    if (proc.exitCode !== null) throw new Error(`caddy exited ${proc.exitCode}: ${await new Response(proc.stderr).text()}`);
    return (await fetch(`${url}/`).catch(() => null))?.status === 200;
  }, 20_000, { everyMs: 100 });
  return {
    url,
    async stop() {
      proc.kill("SIGTERM");
      await Promise.race([proc.exited, Bun.sleep(5_000)]);
      if (proc.exitCode === null) proc.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    },
  };
}
