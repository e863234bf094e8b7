/**
 * Headless Chromium (Debian's, through puppeteer-core) for the browser tests: one set of flags for
 * a shared CI machine (no sandbox as root, no GPU, nothing fetched from outside: updates, sync,
 * background networking) and a profile in a directory of the test's own.
 */
import puppeteer, { type Browser } from "puppeteer-core";
import { requireTool } from "./tools.ts";

export function launchChromium(userDataDir: string): Promise<Browser> {
  return puppeteer.launch({
    executablePath: requireTool("chromium"),
    headless: true,
    userDataDir,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
  });
}
