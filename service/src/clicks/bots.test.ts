import { describe, expect, test } from "bun:test";
import { botFlags, isBotAgent } from "./bots.ts";

// Real user agents as these clients send them.
const BOTS = {
  googlebot: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  "slack unfurler": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
  "twitter unfurler": "Twitterbot/1.0",
  "facebook unfurler": "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
  "discord unfurler": "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
  "uptime monitor": "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
  "headless chrome": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
  curl: "curl/8.5.0",
  wget: "Wget/1.21.4",
  "python-requests": "python-requests/2.31.0",
  // What fetch() sends by default in Bun: tests that want a person's click must send a browser's.
  "bun fetch": navigator.userAgent,
};
const PEOPLE = {
  chrome: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "safari on iphone": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
  firefox: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
  edge: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
  "chrome on android": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
};

describe("isBotAgent", () => {
  test("crawlers, unfurlers, monitors and HTTP tools are bots", () => {
    expect(navigator.userAgent).toStartWith("Bun/");
    for (const [name, ua] of Object.entries(BOTS)) expect(isBotAgent(ua), name).toBe(true);
  });

  test("browsers are not", () => {
    for (const [name, ua] of Object.entries(PEOPLE)) expect(isBotAgent(ua), name).toBe(false);
  });

  test("a click without a User-Agent counts as a person's", () => {
    expect(isBotAgent(undefined)).toBe(false);
  });
});

describe("botFlags", () => {
  test("gives one flag per click in order, the same as asking for each", () => {
    const agents = [PEOPLE.chrome, BOTS.googlebot, undefined, PEOPLE.chrome, BOTS.curl, BOTS.googlebot, PEOPLE.firefox];
    expect(botFlags(agents.map((userAgent) => ({ userAgent })))).toEqual([false, true, false, false, true, true, false]);
    expect(botFlags([])).toEqual([]);
  });
});
