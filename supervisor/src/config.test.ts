import { describe, expect, test } from "bun:test";
import { ConfigError } from "../../service/src/lib/env.ts";
import { loadSupervisorConfig } from "./config.ts";

function messageOf(load: () => unknown): string {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error("the configuration was accepted");
}

// Regression: an invalid setting was printed raw; an http:// Discord webhook carries its token in
// the path, a DATABASE_URL its password, and both went to the terminal and the journal.
describe("the supervisor's secret-bearing settings are redacted when invalid", () => {
  test("an http:// Discord webhook keeps its token out of the message", () => {
    const message = messageOf(() => loadSupervisorConfig({ DISCORD_WEBHOOK_URL: "http://discord.com/api/webhooks/123456/TOKENtokenTOKEN" }));
    expect(message).toBe('invalid configuration:\n  DISCORD_WEBHOOK_URL="http://discord.com/***": must be an https:// URL (http:// only for a loopback test server)');
  });

  test("a DATABASE_URL flag in libpq keyword form is not shown at all", () => {
    const message = messageOf(() => loadSupervisorConfig({}, new Map([["database-url", "host=db password=hunter2secret"]])));
    expect(message).toBe("invalid configuration:\n  --database-url=<redacted, 30 characters>: must be a postgres:// or postgresql:// URL");
  });
});
