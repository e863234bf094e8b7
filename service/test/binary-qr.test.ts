/**
 * The QR codes and the preview page from the compiled binary, alone in its folder: the qrcode
 * package (SVG and PNG) must be bundled and work there, and PUBLIC_URL must reach the code.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { buildBinary, startBinary, type RunningBinary } from "./binary.ts";
import { createDatabase, dropDatabase } from "./pg.ts";
import { readPngQr, readSvgQr } from "./qr-decode.ts";

const PUBLIC_URL = "https://s.example.test";

let bin: string;
let database: { name: string; url: string } | undefined;
let running: RunningBinary | undefined;

beforeAll(async () => { bin = await buildBinary(); }, 120_000);
afterAll(async () => {
  await running?.stop("SIGKILL");
  if (database) await dropDatabase(database.name);
}, 30_000);

test("dist/linkfort draws SVG and PNG QR codes of PUBLIC_URL + '/' + code, answers If-None-Match, and serves the preview page", async () => {
  database = await createDatabase({ unmigrated: true });
  // A trailing slash, as an operator may write it: the code's URL has exactly one.
  running = await startBinary(bin, { DATABASE_URL: database.url, PUBLIC_URL: `${PUBLIC_URL}/`, SHUTDOWN_DRAIN_MS: "0" });
  const b = running;
  const [, key] = await b.waitFor(/^\s+(lf_[A-Za-z0-9]+)\s*$/m);
  await b.waitFor(/"msg":"listening"/);
  const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const user = (await (await fetch(`${b.base}/users`, { method: "POST", headers: auth, body: JSON.stringify({ username: "qr", email: "qr@example.com" }) })).json()) as { id: number };
  const linkRes = await fetch(`${b.base}/urls`, { method: "POST", headers: auth, body: JSON.stringify({ user_id: user.id, original_url: "https://example.com/qr" }) });
  const link = (await linkRes.json()) as { id: number; short_code: string };
  expect(linkRes.status, JSON.stringify(link)).toBe(201);

  const svg = await fetch(`${b.base}/urls/${link.id}/qr`, { headers: auth });
  const svgText = await svg.text();
  expect(svg.status, svgText.slice(0, 300)).toBe(200);
  expect(svg.headers.get("content-type")).toBe("image/svg+xml");
  expect(readSvgQr(svgText)).toBe(`${PUBLIC_URL}/${link.short_code}`);

  const png = await fetch(`${b.base}/urls/${link.id}/qr?format=png&size=200`, { headers: auth });
  expect(png.status).toBe(200);
  expect(png.headers.get("content-type")).toBe("image/png");
  expect(readPngQr(new Uint8Array(await png.arrayBuffer()))).toEqual({ text: `${PUBLIC_URL}/${link.short_code}`, width: 200, height: 200 });

  const again = await fetch(`${b.base}/urls/${link.id}/qr?format=png&size=200`, { headers: { ...auth, "if-none-match": png.headers.get("etag")! } });
  expect(again.status).toBe(304);
  expect(await again.text()).toBe("");

  const preview = await fetch(`${b.base}/${link.short_code}+`, { redirect: "manual" });
  const page = await preview.text();
  expect(preview.status, page.slice(0, 300)).toBe(200);
  expect(preview.headers.get("content-security-policy")).toStartWith("default-src 'none'; style-src 'sha256-");
  expect(page).toContain('<a href="https://example.com/qr" rel="noopener noreferrer nofollow">https://example.com/qr</a>');
}, 90_000);

test("a PUBLIC_URL with a path, or not http(s), stops the start with exit 2 naming it", async () => {
  for (const bad of ["https://s.example.test/links", "ftp://s.example.test", "s.example.test", "https://user:pw@s.example.test"]) {
    const b = await startBinary(bin, { DATABASE_URL: "postgres://127.0.0.1:1/none", PUBLIC_URL: bad });
    expect(await b.proc.exited, b.output()).toBe(2);
    expect(b.output()).toContain("PUBLIC_URL");
    expect(b.output(), "a password in it is not repeated").not.toContain(":pw@");
  }
}, 60_000);
