/**
 * PostgreSQL with no connection slot for the service (max_connections reached, or a role's
 * CONNECTION LIMIT): SQLSTATE 53300 is the server's trouble, so clients get a 503 JSON with
 * Retry-After, never a 500. A role with CONNECTION LIMIT 0 makes the refusal real and touches no
 * other test's connections.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { createApp, type App } from "../src/app.ts";
import { testConfig } from "../src/config.ts";
import { buildDeps, type Deps } from "../src/deps.ts";
import { silentLogger } from "../src/lib/logger.ts";
import { show, testApp, type TestApp } from "./harness.ts";

const ROLE = `linkfort_noslot_${process.pid}`;
let h: TestApp;
let admin: postgres.Sql;
let deps: Deps;
let app: App;

beforeAll(async () => {
  h = await testApp();
  admin = postgres(h.databaseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create role ${ROLE} login password 'x' connection limit 0`);
  const url = new URL(h.databaseUrl);
  url.username = ROLE;
  url.password = "x";
  deps = buildDeps(testConfig(), silentLogger, url.toString());
  deps.health.markReady();
  app = createApp(deps);
}, 30_000);

afterAll(async () => {
  await deps.close();
  await admin.unsafe(`drop role if exists ${ROLE}`);
  await admin.end();
  await h.close();
}, 20_000);

describe("no connection slot left for the service", () => {
  test("a read answers 503 with Retry-After and a body saying the database is out of resources", async () => {
    const res = await app.handle(new Request(`http://localhost/users/1`, { headers: { authorization: `Bearer ${h.adminKey}` } }));
    const text = await res.text();
    expect(res.status, `${res.status} ${text}`).toBe(503);
    expect(JSON.parse(text)).toEqual({ error: "Service Unavailable", message: expect.stringContaining("out of resources") });
    expect(res.headers.get("retry-after")).toBe("5");
  }, 20_000);

  test("the same read through a pool with a slot answers 404 for a missing user: the 503 came from the slot, not the route", async () => {
    const res = await h.request("GET", "/users/1");
    expect(res.status, show(res)).toBe(404);
  }, 20_000);
});
