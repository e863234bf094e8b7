#!/usr/bin/env bun
/**
 * What a Caddy config reload does to requests in flight: a real Caddy in front of an upstream that
 * counts every request it serves (by a per-request user agent), steady load, and a reload every
 * `--every` ms. A request the upstream served twice but the client saw once is a click counted
 * twice; one it served whose client got an error is a click with no redirect.
 *
 * Cause (docs/FAILURE_MODES.md, the row "Caddy reloaded under load"): the old config's server closes its idle
 * kept-alive connections, and one that has just read a request is still closed as idle while the
 * request is served (Go's net/http, golang/go#65802). A client with keep-alive sends that GET
 * again on a new connection (as browsers do); one without sees the connection reset.
 *
 *   bun bench/caddy-reload.ts [--reloads N] [--every MS] [--workers N]
 */
import { freePort, installExitHooks, runScript, spawnChild, waitHttp } from "./lib/procs.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const RELOADS = arg("reloads", 40);
const EVERY_MS = arg("every", 150);
const WORKERS = arg("workers", 4);

interface Outcome { mode: string; requests: number; failed: number; served: number; servedTwice: number; servedNotAnswered: number }

async function measure(keepalive: boolean): Promise<Outcome> {
  const served = new Map<string, number>();
  const upstream = Bun.serve({
    hostname: "127.0.0.1", port: 0,
    fetch(request) {
      const agent = request.headers.get("user-agent") ?? "";
      served.set(agent, (served.get(agent) ?? 0) + 1);
      return new Response(null, { status: 302, headers: { location: "https://example.com/" } });
    },
  });
  const [port, admin] = [await freePort(), await freePort()];
  const dir = `${process.env.TMPDIR ?? "/tmp"}/linkfort-caddy-reload-${process.pid}`;
  const config = `${dir}/Caddyfile`;
  // Each generation differs (a header), so every reload really replaces the server.
  const write = (generation: number) => Bun.write(config, `{\n\tadmin 127.0.0.1:${admin}\n}\n:${port} {\n\tbind 127.0.0.1\n\theader X-Generation ${generation}\n\treverse_proxy 127.0.0.1:${upstream.port}\n}\n`);
  await write(0);
  const caddy = spawnChild("caddy", ["caddy", "run", "--config", config, "--adapter", "caddyfile"], { env: { HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir } });
  try {
    await waitHttp(`http://127.0.0.1:${port}/warmup`, caddy, 30_000, 302);
    served.clear();
    const answered = new Set<string>();
    let failed = 0;
    let sent = 0;
    let stopped = false;
    const worker = async () => {
      while (!stopped) {
        const agent = `r${++sent}`;
        try {
          const response = await fetch(`http://127.0.0.1:${port}/code`, { redirect: "manual", keepalive, headers: { "user-agent": agent } });
          await response.arrayBuffer();
          answered.add(agent);
        } catch {
          failed++;
        }
      }
    };
    const workers = Array.from({ length: WORKERS }, worker);
    for (let generation = 1; generation <= RELOADS; generation++) {
      await write(generation);
      const reload = Bun.spawn(["caddy", "reload", "--config", config, "--adapter", "caddyfile", "--address", `127.0.0.1:${admin}`], { stdout: "ignore", stderr: "pipe" });
      if ((await reload.exited) !== 0) throw new Error(`caddy reload failed: ${await new Response(reload.stderr).text()}`);
      await Bun.sleep(EVERY_MS);
    }
    stopped = true;
    await Promise.all(workers);
    return {
      mode: keepalive ? "keep-alive" : "new connection each",
      requests: sent, failed,
      served: [...served.values()].reduce((a, b) => a + b, 0),
      servedTwice: [...served].filter(([agent, n]) => n > 1 && answered.has(agent)).length,
      servedNotAnswered: [...served.keys()].filter((agent) => !answered.has(agent)).length,
    };
  } finally {
    await caddy.stop();
    upstream.stop(true);
    await Bun.$`rm -rf ${dir}`.quiet();
  }
}

installExitHooks();
await runScript(async () => {
  const rows = [await measure(true), await measure(false)];
  console.log(`caddy ${(await Bun.$`caddy version`.text()).trim()}, ${RELOADS} reloads ${EVERY_MS} ms apart, ${WORKERS} client workers`);
  console.log("| client | requests | failed | served by upstream | served twice, answered once | served, client got an error |");
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const r of rows) console.log(`| ${r.mode} | ${r.requests} | ${r.failed} | ${r.served} | ${r.servedTwice} | ${r.servedNotAnswered} |`);
}, console.error);
