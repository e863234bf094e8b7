/**
 * The links panel's calls (link-routes.ts over service-api.ts) against a real instance over HTTP
 * and PostgreSQL, the first port dead as an instance that is restarting: top today and search
 * with only the fields the panel shows, deactivation through PUT /urls/:id (the code then
 * answers 410), and the service's refusals passed on with their status.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { silentLogger } from "../../../service/src/lib/logger.ts";
import { createClicksRepo } from "../../../service/src/clicks/repo.ts";
import { startInstances, type Instances } from "../../../service/test/instances.ts";
import { createLinkActions } from "./link-routes.ts";
import { createServiceApi } from "./service-api.ts";

let fleet: Instances;
let links: ReturnType<typeof createLinkActions>;
let link: { id: number; short_code: string };
let userKey: string;

beforeAll(async () => {
  fleet = await startInstances(1);
  const { h } = fleet;
  const owner = (await h.request("POST", "/users", { body: { username: "panel", email: "panel@example.com" } })).json.id as number;
  userKey = await h.insertKey("user", owner);
  link = (await h.request("POST", "/urls", { body: { user_id: owner, original_url: "https://panel.example/spring", alias: "panel-link", title: "Spring" } })).json;
  await createClicksRepo(h.deps.sql).insertBatch(Array.from({ length: 2 }, () => ({ id: crypto.randomUUID(), urlId: link.id, shortCode: link.short_code, at: new Date() })));
  // Port 1: nothing listens, so every call first meets a refused connection and moves on.
  const service = createServiceApi([1, 2], (port, path) => (port === 1 ? `http://127.0.0.1:1${path}` : `${fleet.all[0]!.base}${path}`));
  links = createLinkActions({ service, logger: silentLogger });
}, 30_000);
afterAll(async () => { await fleet.close(); }, 30_000);

const shown = { id: expect.any(Number), short_code: "panel-link", original_url: "https://panel.example/spring", title: "Spring", clicks_today: 2, bot_clicks_today: 0 };

test("top today and search show the link with today's clicks, nothing the panel does not use", async () => {
  const top = await links.read(fleet.h.adminKey, "/api/links/top", new URL("http://console/api/links/top"));
  expect(top).toEqual({ ok: true, body: { links: [{ ...shown, is_active: true }] } });
  const found = await links.read(fleet.h.adminKey, "/api/links/search", new URL("http://console/api/links/search?q=%20panel%20"));
  expect(found).toEqual({ ok: true, body: { q: "panel", links: [{ ...shown, is_active: true, match: "code_prefix" }] } });
  const byUrl = await links.read(fleet.h.adminKey, "/api/links/search", new URL("http://console/api/links/search?q=SPRING"));
  expect(byUrl).toEqual({ ok: true, body: { q: "SPRING", links: [{ ...shown, is_active: true, match: "url" }] } });
});

test("a user key's refusal and an unknown link come back with the service's status and words", async () => {
  const asUser = await links.read(userKey, "/api/links/top", new URL("http://console/api/links/top"));
  expect(asUser).toEqual({ ok: false, status: 403, message: "this needs an admin key" });
  const unknown = await links.deactivate(fleet.h.adminKey, 2_000_000);
  expect(unknown).toEqual({ ok: false, status: 404, message: "url 2000000 not found" });
});

test("deactivating sends the contract's PUT: the link is inactive and its code answers 410", async () => {
  expect(await fleet.all[0]!.follow("panel-link")).toMatchObject({ status: 302 });
  const done = await links.deactivate(fleet.h.adminKey, link.id);
  expect(done).toEqual({ ok: true, body: { ok: true, detail: "link panel-link deactivated: its code now answers 410" } });
  expect((await fleet.h.request("GET", `/urls/${link.id}`)).json).toMatchObject({ is_active: false });
  expect(await fleet.all[0]!.follow("panel-link")).toMatchObject({ status: 410 });
  const found = await links.read(fleet.h.adminKey, "/api/links/search", new URL("http://console/api/links/search?q=panel-link"));
  expect(found).toEqual({ ok: true, body: { q: "panel-link", links: [{ ...shown, is_active: false, match: "code" }] } });
});
