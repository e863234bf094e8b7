import { describe, expect, test } from "bun:test";
import { loadServiceConfig } from "../config.ts";
import { ConfigError, int, readConfig, redactValue, str } from "./env.ts";

/** The message a bad start prints (main.ts writes exactly this to stderr). */
function messageOf(load: () => unknown): string {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error("the configuration was accepted");
}

// Regression: an invalid setting was printed raw, so a mistyped DATABASE_URL put its password,
// and an http:// Discord webhook its token, on the terminal and into the journal.
describe("an invalid secret-bearing setting is named, its secret is not printed", () => {
  test("DATABASE_URL with a password and the wrong scheme (service)", () => {
    const message = messageOf(() => loadServiceConfig({ DATABASE_URL: "mysql://linkfort:hunter2secret@db.internal:5432/linkfort" }));
    expect(message).toBe('invalid configuration:\n  DATABASE_URL="mysql://linkfort:***@db.internal:5432/***": must be a postgres:// or postgresql:// URL');
  });

  test("REDIS_URL with a password and a query password", () => {
    const message = messageOf(() => loadServiceConfig({ REDIS_URL: "http://default:hunter2secret@127.0.0.1:6379/0?password=other" }));
    expect(message).not.toContain("hunter2secret");
    expect(message).not.toContain("other");
    expect(message).toContain('REDIS_URL="http://default:***@127.0.0.1:6379/***": must be a redis:// or rediss:// URL');
  });
});

describe("redactValue", () => {
  test("a setting not marked secret still loses a URL's password, and keeps the rest", () => {
    expect(redactValue("postgres://u:pw@h/db?password=x&sslmode=require", false)).toBe('"postgres://u:***@h/db?sslmode=require"');
    expect(redactValue("8081-8083", false)).toBe('"8081-8083"');
  });

  test("every other setting is printed as given", () => {
    const message = messageOf(() => readConfig({ port: { env: "PORT", parse: int(1, 65535), default: 8080, doc: "" }, name: { env: "NAME", parse: str, default: "", doc: "" } }, { PORT: "http://x" }));
    expect(message).toBe('invalid configuration:\n  PORT="http://x": must be a whole number between 1 and 65535');
  });
});
