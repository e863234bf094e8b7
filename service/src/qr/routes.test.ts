import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp, type TestResponse } from "../../test/harness.ts";
import { readPngQr, readSvgQr } from "../../test/qr-decode.ts";
import { createQrService } from "./service.ts";
import type { UrlRow } from "../db/schema.ts";

const ORIGIN = "https://s.example.test";
const ETAG = /^"[A-Za-z0-9_-]{27}"$/;

let h: TestApp;
let alice: number;
let bob: number;
let aliceKey: string;
let link: { id: number; short_code: string };
let bobLink: { id: number; short_code: string };

beforeAll(async () => {
  h = await testApp({ publicUrl: ORIGIN });
  alice = (await h.request("POST", "/users", { body: { username: "qr-alice", email: "qr-alice@example.com" } })).json.id;
  bob = (await h.request("POST", "/users", { body: { username: "qr-bob", email: "qr-bob@example.com" } })).json.id;
  aliceKey = await h.insertKey("user", alice);
  link = (await h.request("POST", "/urls", { body: { user_id: alice, original_url: "https://dest.example/qr?x=1" } })).json;
  bobLink = (await h.request("POST", "/urls", { body: { user_id: bob, original_url: "https://bob.example/" } })).json;
}, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

const qr = (path: string, opts: { key?: string | null; headers?: Record<string, string> } = {}) => h.request("GET", path, opts);

/** The raw bytes, which TestResponse (text) cannot carry for a PNG. */
async function qrBytes(path: string): Promise<{ status: number; headers: Headers; bytes: Uint8Array }> {
  const res = await h.app.handle(new Request(`http://localhost${path}`, { headers: { authorization: `Bearer ${h.adminKey}` } }));
  return { status: res.status, headers: res.headers, bytes: new Uint8Array(await res.arrayBuffer()) };
}

const expectError = (res: TestResponse, status: number, error: string, message: RegExp | string) => {
  expect(res.status, show(res)).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/json");
  expect(res.json, show(res)).toEqual({ error, message: typeof message === "string" ? message : expect.stringMatching(message), ...(status === 400 ? { fields: expect.any(Array) } : {}) });
};

describe("GET /urls/:id/qr", () => {
  test("is an SVG that a QR reader reads as PUBLIC_URL + '/' + short_code, with a strong ETag and private revalidation", async () => {
    const res = await qr(`/urls/${link.id}/qr`);
    expect(res.status, show(res)).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/svg+xml");
    expect(res.headers.get("etag")).toMatch(ETAG);
    expect(res.headers.get("cache-control")).toBe("private, no-cache");
    expect(res.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.text).toStartWith('<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" ');
    expect(res.text).not.toContain("<script");
    expect(readSvgQr(res.text)).toBe(`${ORIGIN}/${link.short_code}`);
  });

  test("format=png&size=300 is a 300 x 300 PNG carrying the same short URL", async () => {
    const res = await qrBytes(`/urls/${link.id}/qr?format=png&size=300`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(res.headers.get("etag")).toMatch(ETAG);
    expect(readPngQr(res.bytes)).toEqual({ text: `${ORIGIN}/${link.short_code}`, width: 300, height: 300 });
  });

  test("the ETag changes with format and size, and not between two requests for the same image", async () => {
    const tags = await Promise.all(["", "?size=512", "?format=png", "?format=png&size=512", ""].map(async (q) => (await qr(`/urls/${link.id}/qr${q}`)).headers.get("etag")));
    expect(new Set(tags).size, JSON.stringify(tags)).toBe(4);
    expect(tags[0]).toBe(tags[4]!);
    expect((await qr(`/urls/${bobLink.id}/qr`)).headers.get("etag")).not.toBe(tags[0]);
  });

  test("If-None-Match naming the ETag (also weak, in a list, or *) is a 304 with no body; another tag draws it", async () => {
    const etag = (await qr(`/urls/${link.id}/qr?format=png`)).headers.get("etag")!;
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const res = await qr(`/urls/${link.id}/qr?format=png`, { headers: { "if-none-match": header } });
      expect(res.status, `${header}: ${show(res)}`).toBe(304);
      expect(res.text).toBe("");
      expect(res.headers.get("etag")).toBe(etag);
      expect(res.headers.get("cache-control")).toBe("private, no-cache");
    }
    const other = await qr(`/urls/${link.id}/qr`, { headers: { "if-none-match": etag } });
    expect(other.status, "the SVG is another image").toBe(200);
    expect(other.headers.get("etag")).not.toBe(etag);
  });

  test("an inactive link still has its code (it answers 410 until reactivated, at the same address)", async () => {
    const sleepy = (await h.request("POST", "/urls", { body: { user_id: alice, original_url: "https://sleepy.example/" } })).json;
    await h.request("PUT", `/urls/${sleepy.id}`, { body: { is_active: false } });
    const res = await qr(`/urls/${sleepy.id}/qr`);
    expect(res.status, show(res)).toBe(200);
    expect(readSvgQr(res.text)).toBe(`${ORIGIN}/${sleepy.short_code}`);
  });
});

describe("GET /urls/:id/qr refuses", () => {
  test("a bad format or size with a 400 naming it", async () => {
    expectError(await qr(`/urls/${link.id}/qr?format=gif`), 400, "Bad Request", "query field 'format': format must be svg or png");
    for (const size of ["127", "1025", "abc", "256.5", "-1"]) {
      // Elysia names the field for a number out of range, not for text that is no number; the schema's own text names it either way.
      expectError(await qr(`/urls/${link.id}/qr?size=${size}`), 400, "Bad Request", /^(query field 'size'|property): size must be a whole number of pixels from 128 to 1024$/);
    }
  });

  test("without a key: 401, even with a matching If-None-Match", async () => {
    const etag = (await qr(`/urls/${link.id}/qr`)).headers.get("etag")!;
    expectError(await qr(`/urls/${link.id}/qr`, { key: null, headers: { "if-none-match": etag } }), 401, "Unauthorized", /.+/);
  });

  test("another user's link: 403 for a user key, which still gets its own", async () => {
    expectError(await qr(`/urls/${bobLink.id}/qr`, { key: aliceKey }), 403, "Forbidden", "this key may only act on its own user's records");
    const own = await qr(`/urls/${link.id}/qr`, { key: aliceKey });
    expect(own.status, show(own)).toBe(200);
    expect(readSvgQr(own.text)).toBe(`${ORIGIN}/${link.short_code}`);
  });

  test("an unknown, deleted or impossible id: the 404 of GET /urls/:id", async () => {
    const gone = (await h.request("POST", "/urls", { body: { user_id: alice, original_url: "https://gone.example/" } })).json;
    expect((await h.request("DELETE", `/urls/${gone.id}`)).status).toBe(204);
    expectError(await qr(`/urls/${gone.id}/qr`), 404, "Not Found", `url ${gone.id} not found`);
    expectError(await qr("/urls/99999999/qr"), 404, "Not Found", "url 99999999 not found");
    expectError(await qr("/urls/abc/qr"), 404, "Not Found", "url abc not found");
  });
});

describe("the QR service", () => {
  const row = { shortCode: "abc123", userId: 1 } as UrlRow;
  const admin = { role: "admin", keyId: null } as const;
  const image = (origin: string) => createQrService({ getUrl: async () => row, publicOrigin: origin }).image(admin, 1, {}, null);

  test("draws the configured origin, whatever the request said, and its ETag follows it", async () => {
    const [a, b] = await Promise.all([image("https://a.example"), image("http://b.example:8080")]);
    if (a.kind !== "image" || b.kind !== "image") throw new Error("expected images");
    expect(readSvgQr(a.body as string)).toBe("https://a.example/abc123");
    expect(readSvgQr(b.body as string)).toBe("http://b.example:8080/abc123");
    expect(a.etag).not.toBe(b.etag);
  });
});
