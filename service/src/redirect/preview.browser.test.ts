/**
 * The preview page (GET /:code+) in a real headless Chromium: it renders, its style block is
 * allowed by the CSP's hash (a changed style without a changed hash would be refused and the page
 * unstyled), nothing is refused or loaded from anywhere, and a hostile destination stays text.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "puppeteer-core";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { launchChromium } from "../../test/chromium.ts";

let h: TestApp;
let origin: string;
let browser: Browser;
let dir: string;

beforeAll(async () => {
  h = await testApp();
  h.app.listen({ hostname: "127.0.0.1", port: 0 });
  origin = `http://127.0.0.1:${h.app.server!.port}`;
  dir = await mkdtemp(join(tmpdir(), "linkfort-preview-browser-"));
  browser = await launchChromium(join(dir, "profile"));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await h?.app.stop(true);
  await h?.close();
  if (dir && !process.env.KEEP_PREVIEW_SCREENSHOT) await rm(dir, { recursive: true, force: true });
}, 60_000);

test("the preview page renders styled under its CSP, with no violation, no request elsewhere and no script run", async () => {
  const userId = (await h.request("POST", "/users", { body: { username: "browser", email: "browser@example.com" } })).json.id;
  const hostile = `https://evil.example/"><script>document.title='pwned'</script><b>x</b>?q='1'`;
  const created = await h.request("POST", "/urls", { body: { user_id: userId, original_url: hostile } });
  expect(created.status, show(created)).toBe(201);

  const page = await browser.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on("console", (message) => problems.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => problems.push(String(error)));
  page.on("request", (request) => requests.push(request.url()));
  const response = await page.goto(`${origin}/${created.json.short_code}+`, { waitUntil: "load", timeout: 30_000 });
  expect(response?.status()).toBe(200);

  const seen = await page.evaluate(`({
    title: document.title,
    heading: document.querySelector("h1")?.textContent,
    links: [...document.querySelectorAll("a")].map((a) => ({ href: a.getAttribute("href"), text: a.textContent, rel: a.rel })),
    scripts: document.scripts.length,
    bold: document.querySelectorAll("b").length,
    maxWidth: getComputedStyle(document.querySelector("main")).maxWidth,
  })`);
  const screenshot = join(dir, "preview.png");
  await page.screenshot({ path: screenshot });
  const context = `screenshot: ${screenshot}\nconsole: ${problems.join("\n")}`;
  expect(seen, context).toEqual({
    title: `Where /${created.json.short_code} leads`,
    heading: `The short link /${created.json.short_code} leads to`,
    links: [{ href: hostile, text: hostile, rel: "noopener noreferrer nofollow" }],
    scripts: 0,
    bold: 0,
    // 40rem from the style block: applied, so the CSP's hash matched it.
    maxWidth: "640px",
  });
  expect(problems, context).toEqual([]);
  // The page itself and the browser's own favicon probe (a code that does not exist), nothing else.
  expect(requests.filter((url) => !url.endsWith("/favicon.ico")), context).toEqual([`${origin}/${created.json.short_code}+`]);
  await page.close();
}, 90_000);
