/**
 * /docs/json from a real listening server must be a document that real tools accept: a standard
 * validator finds no error, and a client generated from it type-checks and works against the
 * same server. The generated client lives in a temporary directory, so it is regenerated on
 * every run and cannot go stale.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import SwaggerParser from "@apidevtools/swagger-parser";
import Ajv2020 from "ajv/dist/2020";
import openapiTS, { astToString } from "openapi-typescript";
import { createApp, type App } from "../src/app.ts";
import { testApp, type TestApp } from "./harness.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];
/** Everything else needs a key (API-CONTRACT §6). */
const PUBLIC = ["GET /live", "GET /ready", "GET /health", "GET /metrics", "GET /{short_code}"];

interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  responses: Record<string, { description?: string }>;
}

let h: TestApp;
let server: App;
let base: string;
let doc: Record<string, unknown> & { paths: Record<string, Record<string, Operation>> };
let dir: string;

beforeAll(async () => {
  h = await testApp();
  server = createApp(h.deps).listen({ port: 0, hostname: "127.0.0.1" });
  base = `http://127.0.0.1:${server.server!.port}`;
  const res = await fetch(`${base}/docs/json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as typeof doc;
  dir = await mkdtemp(join(tmpdir(), "linkfort-openapi-"));
  // The generated client resolves openapi-fetch (and tsc its types) from the repository.
  await symlink(join(REPO, "node_modules"), join(dir, "node_modules"));
});
afterAll(async () => {
  await server?.stop(true);
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).filter(([method]) => METHODS.includes(method)).map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, op })));

describe("GET /docs/json", () => {
  test("passes @apidevtools/swagger-parser's validation as OpenAPI 3.1", async () => {
    // validate() dereferences in place; the document itself stays as served.
    const problems = await SwaggerParser.validate(structuredClone(doc) as never).then(() => "", (err: Error) => err.message);
    expect(problems).toBe("");
    expect(doc.openapi).toBe("3.1.0");
  });

  test("every schema in it is valid JSON Schema 2020-12, the dialect OpenAPI 3.1 uses", () => {
    // The 3.1 meta-schema only checks that a schema is an object; Ajv checks the keywords.
    const ajv = new Ajv2020({ strict: false });
    const bad: string[] = [];
    const visit = (value: unknown, at: string): void => {
      if (typeof value !== "object" || value === null) return;
      for (const [key, child] of Object.entries(value)) {
        if (key === "schema" && !ajv.validateSchema(child as object)) bad.push(`${at}/schema: ${ajv.errorsText(ajv.errors)}`);
        visit(child, `${at}/${key}`);
      }
    };
    visit(doc.paths, "#/paths");
    expect(bad).toEqual([]);
  });

  test("documents every route the app serves, each with a unique operationId", () => {
    const served = h.app.routes
      .filter((r) => !r.path.startsWith("/docs"))
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
    expect(operations().map((o) => o.name).sort()).toEqual([...new Set(served)].sort());
    const ids = operations().map((o) => o.op.operationId);
    expect(ids.every((id) => typeof id === "string" && id !== "")).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("declares the Bearer key and requires it everywhere but the redirect and the probes", () => {
    expect(doc.components).toMatchObject({ securitySchemes: { bearer: { type: "http", scheme: "bearer" } } });
    expect(doc.security).toEqual([{ bearer: [] }]);
    const open = operations().filter((o) => o.op.security?.length === 0).map((o) => o.name);
    expect(open.sort()).toEqual([...PUBLIC].sort());
    for (const { name, op } of operations()) {
      if (PUBLIC.includes(name)) continue;
      expect(op.security, name).toBeUndefined(); // inherits the document's bearer requirement
      expect(Object.keys(op.responses), name).toEqual(expect.arrayContaining(["401", "403"]));
    }
  });

  test("POST and PUT /urls document the link options, each with a description and examples that its own schema accepts", () => {
    const ajv = new Ajv2020({ strict: false });
    const bodyOf = (op: Operation & { requestBody?: { content: Record<string, { schema: JsonSchema }> } }) =>
      op.requestBody!.content["application/json"]!.schema;
    const create = bodyOf(doc.paths["/urls"]!.post!);
    const update = bodyOf(doc.paths["/urls/{id}"]!.put!);
    const fields: [JsonSchema, string[]][] = [
      [create, ["alias", "expires_at", "max_clicks", "forward_query"]],
      [update, ["expires_at", "max_clicks", "forward_query"]],
    ];
    for (const [body, names] of fields) {
      for (const name of names) {
        const field = body.properties![name]!;
        expect(typeof field.description, name).toBe("string");
        expect(field.examples?.length, name).toBeGreaterThan(0);
        for (const example of field.examples!) expect(ajv.validate(field, example), `${name}: ${JSON.stringify(example)}`).toBe(true);
      }
      for (const example of body.examples!) expect(ajv.validate(body, example), JSON.stringify(example)).toBe(true);
    }
    expect(Object.keys(doc.paths["/urls"]!.post!.responses)).toContain("409");
  });
});

interface JsonSchema {
  description?: string;
  examples?: unknown[];
  properties?: Record<string, JsonSchema>;
}

// Written out and type-checked against the generated types, then run: what compiles is what is tested.
const CLIENT = `
import createClient from "openapi-fetch";
import type { paths } from "./schema";

export async function run(baseUrl: string, key: string) {
  const api = createClient<paths>({ baseUrl, headers: { Authorization: "Bearer " + key } });
  const created = await api.POST("/users", { body: { username: "typed", email: "typed@example.com" } });
  if (!created.data) throw new Error("POST /users: " + created.response.status);
  const userId: number = created.data.id;
  const link = await api.POST("/urls", { body: { user_id: userId, original_url: "https://example.com/typed?q=1#top", title: null } });
  if (!link.data) throw new Error("POST /urls: " + link.response.status);
  const title: string | null = link.data.title;
  const chosen = await api.POST("/urls", {
    body: { user_id: userId, original_url: "https://example.com/typed", alias: "typed-alias", expires_at: "2030-01-01T00:00:00Z", max_clicks: 5, forward_query: true },
  });
  if (!chosen.data) throw new Error("POST /urls with options: " + chosen.response.status);
  const options: { expires: string | null; cap: number | null; forward: boolean } = {
    expires: chosen.data.expires_at, cap: chosen.data.max_clicks, forward: chosen.data.forward_query,
  };
  const visit = await api.GET("/{short_code}", { params: { path: { short_code: link.data.short_code } }, redirect: "manual" });
  const taken = await api.POST("/users", { body: { username: "typed", email: "other@example.com" } });
  const reason: string | undefined = taken.error?.error;
  return {
    user: created.data,
    link: link.data,
    title,
    chosen: { code: chosen.data.short_code, ...options },
    redirect: { status: visit.response.status, location: visit.response.headers.get("location") },
    conflict: { status: taken.response.status, reason },
  };
}
`;

const TSCONFIG = {
  compilerOptions: {
    strict: true, noEmit: true, target: "ES2022", module: "ESNext", moduleResolution: "Bundler",
    lib: ["ES2022", "DOM"], types: [], skipLibCheck: true,
  },
  files: ["client.ts", "schema.ts"],
};

describe("a client generated from /docs/json", () => {
  test("type-checks, creates a user and a link, and follows the link's redirect", async () => {
    // schema.ts, not .d.ts: skipLibCheck must not skip the generated types.
    await writeFile(join(dir, "schema.ts"), astToString(await openapiTS(structuredClone(doc) as never)));
    await writeFile(join(dir, "client.ts"), CLIENT);
    await writeFile(join(dir, "tsconfig.json"), JSON.stringify(TSCONFIG));
    const tsc = Bun.spawnSync([join(REPO, "node_modules/.bin/tsc"), "-p", dir], { stdout: "pipe", stderr: "pipe" });
    expect(`${tsc.stdout}${tsc.stderr}`).toBe("");
    expect(tsc.exitCode).toBe(0);

    const client: { run(baseUrl: string, key: string): Promise<Record<string, unknown>> } = await import(join(dir, "client.ts"));
    const result = await client.run(base, h.adminKey);
    const TS = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/);
    const user = { id: expect.any(Number), username: "typed", email: "typed@example.com", created_at: TS };
    expect(result).toEqual({
      user,
      link: {
        id: expect.any(Number), user_id: (result.user as { id: number }).id, short_code: expect.stringMatching(/^[A-Za-z0-9]{6}$/),
        original_url: "https://example.com/typed?q=1#top", title: null, is_active: true, created_at: TS, updated_at: TS,
        expires_at: null, max_clicks: null, forward_query: false,
      },
      title: null,
      chosen: { code: "typed-alias", expires: "2030-01-01T00:00:00", cap: 5, forward: true },
      redirect: { status: 302, location: "https://example.com/typed?q=1#top" },
      conflict: { status: 409, reason: "Conflict" },
    });
  }, 60_000);
});
