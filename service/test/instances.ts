/**
 * Several instances of the service in one test process over one database, as production runs
 * them behind Caddy: each its own deps (pool, LRU, LISTEN connection), jobs started as `serve`
 * starts them. Instance i has port 18100 + i in its config, so its LISTEN connection shows in
 * pg_stat_activity as `linkfort-listen:<port>`.
 */
import { createApp, type App } from "../src/app.ts";
import { testConfig, type ServiceConfig } from "../src/config.ts";
import { buildDeps, type Deps } from "../src/deps.ts";
import { silentLogger } from "../src/lib/logger.ts";
import { testApp, type TestApp } from "./harness.ts";
import { waitFor } from "./wait.ts";

export interface Instance {
  deps: Deps;
  app: App;
  port: number;
  /** Where it serves over real HTTP on loopback (a random port), as `serve` does. */
  base: string;
  /** GET /<code> over HTTP: status, Location and X-Cache. */
  follow(code: string): Promise<{ status: number; location: string | null; cache: string | null }>;
}

export interface Instances {
  /** The first instance's harness: its `request` writes with the admin key. */
  h: TestApp;
  all: Instance[];
  close(): Promise<void>;
}

// Over a socket, not app.handle: the answer then reaches the test as it reaches a client, after
// the event loop has read what PostgreSQL sent the instance meanwhile.
const serveOnLoopback = (deps: Deps, port: number): Instance => {
  const app = createApp(deps);
  app.listen({ port: 0, hostname: "127.0.0.1" });
  const base = `http://127.0.0.1:${app.server!.port}`;
  const follow = async (code: string) => {
    const res = await fetch(`${base}/${code}`, { redirect: "manual" });
    await res.arrayBuffer();
    return { status: res.status, location: res.headers.get("location"), cache: res.headers.get("x-cache") };
  };
  return { deps, app, port, base, follow };
};

/** An instance with deps of its own on `url`, ready, serving on loopback, its jobs started: as `serve` runs one. */
export function serveInstance(url: string, port: number, overrides: Partial<ServiceConfig> = {}): Instance {
  const deps = buildDeps(testConfig({ ...overrides, port }), silentLogger, url);
  deps.health.markReady();
  const instance = serveOnLoopback(deps, port);
  deps.jobs.start();
  return instance;
}

export interface InstancesOptions {
  /** The database URL instance `index` (1 and up) uses instead of the harness's, e.g. through a proxy. */
  databaseUrl?(index: number, url: string): Promise<string>;
}

export async function startInstances(count: number, overrides: Partial<ServiceConfig> = {}, opts: InstancesOptions = {}): Promise<Instances> {
  const h = await testApp({ ...overrides, port: 18100 });
  const all: Instance[] = [serveOnLoopback(h.deps, 18100)];
  for (let i = 1; i < count; i++) {
    const port = 18100 + i;
    const url = opts.databaseUrl ? await opts.databaseUrl(i, h.databaseUrl) : h.databaseUrl;
    all.push(serveInstance(url, port, overrides));
  }
  await waitFor("every instance listening", () => all.every((i) => i.deps.cache.trusted), 10_000);
  return {
    h, all,
    async close() {
      for (const instance of all) await instance.app.stop(true);
      for (const instance of all.slice(1)) await instance.deps.close();
      await h.close();
    },
  };
}
