import { describe, expect, test } from "bun:test";
import { generateShortCode, SHORT_CODE_ALPHABET } from "./short-code.ts";

describe("generateShortCode", () => {
  test("gives 6 characters of [A-Za-z0-9]", () => {
    for (let i = 0; i < 1000; i++) expect(generateShortCode()).toMatch(/^[A-Za-z0-9]{6}$/);
  });

  test("uses every character of the alphabet and no character far more often than the others", () => {
    const counts = new Map<string, number>();
    const draws = 20_000;
    for (let i = 0; i < draws; i++) for (const c of generateShortCode()) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(SHORT_CODE_ALPHABET.length);
    // Expected 1935 per character; a modulo bias on bytes would push the first 8 characters ~25 % higher.
    const expected = (draws * 6) / SHORT_CODE_ALPHABET.length;
    for (const [c, n] of counts) expect(Math.abs(n - expected), `character ${c} drawn ${n} times`).toBeLessThan(expected * 0.15);
  });
});
