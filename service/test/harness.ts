/**
 * Builds the real app over a fresh PostgreSQL database for one test file, and a small client
 * that calls it in process (`app.handle`, no port). Each test file: `const h = await testApp()`
 * in beforeAll, `await h.close()` in afterAll.
 */
import { rm } from "node:fs/promises";
import { createApp, type App } from "../src/app.ts";
import { testConfig, type ServiceConfig } from "../src/config.ts";
import { buildDeps, type Deps } from "../src/deps.ts";
import { silentLogger } from "../src/lib/logger.ts";
import { createDatabase, dropDatabase } from "./pg.ts";
import { waitFor } from "./wait.ts";

type RawBody = string | Blob | FormData | Uint8Array;

export interface TestResponse {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed body; undefined when the body is empty. */
  json: any;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as is, without JSON encoding (for malformed input). */
  raw?: RawBody;
  headers?: Record<string, string>;
  /** API key to send; defaults to the admin key; null sends none. */
  key?: string | null;
}

export interface TestApp {
  app: App;
  deps: Deps;
  databaseUrl: string;
  adminKey: string;
  request(method: string, path: string, opts?: RequestOptions): Promise<TestResponse>;
  /** Inserts an API key straight into the database (for tests that must not depend on /admin/keys). */
  insertKey(scope: "admin" | "user", userId?: number): Promise<string>;
  close(): Promise<void>;
}

export async function testApp(overrides: Partial<ServiceConfig> = {}): Promise<TestApp> {
  const database = await createDatabase();
  // testConfig makes a temporary spool directory even when `overrides` names another; close() removes it.
  const base = testConfig();
  const config = { ...base, ...overrides };
  const deps = buildDeps(config, silentLogger, database.url);
  deps.health.markReady();
  const app = createApp(deps);
  // As `serve` does once it listens; the LRU answers on its own only once LISTEN is in place.
  deps.jobs.start();
  await waitFor("the cache invalidation listener", () => deps.cache.trusted, 10_000);

  async function insertKey(scope: "admin" | "user", userId?: number): Promise<string> {
    const key = `lf_test${crypto.randomUUID().replaceAll("-", "")}`;
    // The key service stores sha256(key) in hex; inserting the same way keeps tests independent of it.
    await deps.sql`
      insert into api_keys (name, prefix, hash, scope, user_id)
      values (${`test ${scope}`}, ${key.slice(0, 10)}, encode(sha256(convert_to(${key}, 'UTF8')), 'hex'), ${scope}, ${userId ?? null})`;
    return key;
  }
  const adminKey = await insertKey("admin");

  async function request(method: string, path: string, opts: RequestOptions = {}): Promise<TestResponse> {
    const headers: Record<string, string> = { ...opts.headers };
    const key = opts.key === undefined ? adminKey : opts.key;
    if (key !== null) headers["authorization"] ??= `Bearer ${key}`;
    let body: RawBody | undefined = opts.raw;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers["content-type"] ??= "application/json";
    }
    const res = await app.handle(new Request(`http://localhost${path}`, { method, headers, body }));
    const text = await res.text();
    let json: unknown;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, json };
  }

  return {
    app, deps, databaseUrl: database.url, adminKey, request, insertKey,
    async close() {
      await deps.close();
      await rm(base.clickSpoolDir!, { recursive: true, force: true });
      await dropDatabase(database.name);
    },
  };
}

/** A readable failure message: the response itself. */
export const show = (res: TestResponse) => `${res.status} ${res.text.slice(0, 500)}`;

/** A short-code generator (the urls repo's `newCode`) that hands out the given codes in order. */
export const codesInOrder = (...list: string[]) => () => {
  const next = list.shift();
  if (next === undefined) throw new Error("test generator ran out of codes");
  return next;
};
