import { describe, expect, test } from "bun:test";
import { ApiError } from "../http/errors.ts";
import { displayPrefix, generateKey, parseBearer } from "./secret.ts";

describe("generateKey", () => {
  test("makes lf_ + 40 base62 characters, never the same twice", () => {
    const keys = Array.from({ length: 2000 }, generateKey);
    for (const key of keys) expect(key).toMatch(/^lf_[0-9A-Za-z]{40}$/);
    expect(new Set(keys).size).toBe(keys.length);
  });

  test("uses the whole alphabet (rejection sampling keeps every character reachable)", () => {
    // 20 000 characters: the chance that a reachable character never shows up is below 1e-130.
    const seen = new Set(Array.from({ length: 500 }, () => generateKey().slice(3)).join(""));
    expect(seen.size).toBe(62);
  });

  test("the display prefix is the scheme plus seven characters", () => {
    expect(displayPrefix("lf_ABCDEFGHIJ")).toBe("lf_ABCDEFG");
  });
});

describe("parseBearer", () => {
  const message = (header: string | undefined) => {
    try {
      parseBearer(header);
    } catch (err) {
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(401);
      return (err as ApiError).message;
    }
    throw new Error(`accepted ${header}`);
  };

  test("returns the one token after a case-insensitive Bearer", () => {
    expect(parseBearer("Bearer lf_x")).toBe("lf_x");
    expect(parseBearer("bearer   lf_x")).toBe("lf_x");
    expect(parseBearer(" BEARER\tlf_x ")).toBe("lf_x");
  });

  test("says what is wrong with anything else", () => {
    expect(message(undefined)).toBe("missing Authorization header; send Authorization: Bearer <key>");
    expect(message("   ")).toBe("missing Authorization header; send Authorization: Bearer <key>");
    expect(message("Basic dXNlcjpwYXNz")).toBe("Authorization header must use the Bearer scheme: Authorization: Bearer <key>");
    expect(message("Bearer")).toBe("Authorization: Bearer must be followed by exactly one key");
    expect(message("Bearer a b")).toBe("Authorization: Bearer must be followed by exactly one key");
    expect(message("Bearerlf_x")).toBe("Authorization header must use the Bearer scheme: Authorization: Bearer <key>");
  });
});
