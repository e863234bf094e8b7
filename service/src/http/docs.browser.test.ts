/**
 * GET /docs in a real headless Chromium with no way out of the machine. Regression: the page
 * loaded @scalar/api-reference@latest from a public CDN, so offline it stayed blank, and online
 * it ran whatever that name pointed to that day. Every request the page makes to another origin
 * is refused here and recorded; the reference must render from linkfort's own assets alone.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "puppeteer-core";
import { testApp, type TestApp } from "../../test/harness.ts";
import { launchChromium } from "../../test/chromium.ts";

let h: TestApp;
let origin: string;
let browser: Browser;
let dir: string;

beforeAll(async () => {
  h = await testApp();
  h.app.listen({ hostname: "127.0.0.1", port: 0 });
  origin = `http://127.0.0.1:${h.app.server!.port}`;
  dir = await mkdtemp(join(tmpdir(), "linkfort-docs-browser-"));
  browser = await launchChromium(join(dir, "profile"));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await h?.app.stop(true);
  await h?.close();
  if (dir && !process.env.KEEP_DOCS_SCREENSHOT) await rm(dir, { recursive: true, force: true });
}, 60_000);

test("/docs renders the API reference offline, from linkfort's own assets, under a CSP that allows no other origin", async () => {
  const page = await browser.newPage();
  // Wide enough for the reference's sidebar, which lists every operation.
  await page.setViewport({ width: 1280, height: 900 });
  const outside: string[] = [];
  const problems: string[] = [];
  await page.setRequestInterception(true);
  page.on("request", (request) => {
    const url = request.url();
    if (url.startsWith(origin) || url.startsWith("data:") || url.startsWith("blob:")) return void request.continue();
    outside.push(url);
    void request.abort("internetdisconnected");
  });
  page.on("console", (message) => { if (message.type() === "error") problems.push(message.text()); });
  // The browser's own /favicon.ico is a short code that does not exist: a JSON 404, as it should be.
  page.on("response", (r) => { if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) problems.push(`${r.status()} ${r.url()}`); });
  page.on("pageerror", (error) => problems.push(String(error)));

  const response = await page.goto(`${origin}/docs`, { waitUntil: "load", timeout: 30_000 });
  expect(response?.status()).toBe(200);
  expect(response?.headers()["content-security-policy"]).toContain("default-src 'none'");
  // The reference has rendered the document: its title, a route's summary and every tag in the sidebar.
  // A string, because it runs in the page, where `document` exists (this file has no DOM types).
  const texts = ["linkfort", "Ready for traffic (not starting, not draining)", "users", "urls", "events", "keys", "bans"];
  const rendered = await page.waitForFunction(`${JSON.stringify(texts)}.every((text) => document.body.innerText.includes(text))`, { timeout: 30_000 })
    .then(() => true, () => false);
  const screenshot = join(dir, "docs.png");
  await page.screenshot({ path: screenshot, fullPage: false });
  const context = `screenshot: ${screenshot}\noutside requests: ${outside.join(", ")}\nerrors: ${problems.join("\n")}`;
  expect(rendered, context).toBe(true);
  expect(outside, context).toEqual([]);
  expect(problems.filter((p) => !/favicon\.ico|Failed to load resource/.test(p)), context).toEqual([]);
  await page.close();
}, 90_000);
