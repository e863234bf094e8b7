/** The packed set of codes against a plain Set<string> as the reference, through growth and removals. */
import { describe, expect, test } from "bun:test";
import { createCodeSet, packCode } from "./code-set.ts";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
const randomCode = (length: number) => Array.from({ length }, () => ALPHABET[Math.floor(Math.random() * ALPHABET.length)]).join("");

describe("packCode", () => {
  test("distinct codes pack to distinct numbers, a leading first character included", () => {
    const codes = ["A", "AA", "AAA", "-", "--------", "a", "a0", "0a", "b000001", "zzzzzzzz"];
    const packed = codes.map(packCode);
    expect(new Set(packed).size).toBe(codes.length);
    expect(packed.every((v) => v !== undefined && v > 0 && Number.isSafeInteger(v))).toBe(true);
  });

  test("longer than 8 or outside the alphabet does not pack", () => {
    expect([packCode("abcdefghi"), packCode("a.b"), packCode("é"), packCode("")]).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe("createCodeSet", () => {
  test("agrees with a Set<string> over 50,000 random adds, removals and lookups of 1 to 16 characters", () => {
    const set = createCodeSet();
    const reference = new Set<string>();
    const seen: string[] = [];
    for (let i = 0; i < 50_000; i++) {
      const code = randomCode(1 + (i % 16));
      set.add(code);
      reference.add(code);
      seen.push(code);
      // Removes every third: removed slots must not hide codes added after them.
      if (i % 3 === 0) {
        const gone = seen[Math.floor(Math.random() * seen.length)]!;
        set.delete(gone);
        reference.delete(gone);
      }
    }
    expect(set.size).toBe(reference.size);
    const wrong = seen.filter((code) => set.has(code) !== reference.has(code));
    const strangers = Array.from({ length: 20_000 }, () => randomCode(6)).filter((code) => set.has(code) !== reference.has(code));
    expect([wrong, strangers]).toEqual([[], []]);
  });

  test("a code added again after removal is there; adding twice counts once", () => {
    const set = createCodeSet();
    set.add("abc123");
    set.add("abc123");
    expect(set.size).toBe(1);
    set.delete("abc123");
    expect([set.has("abc123"), set.size]).toEqual([false, 0]);
    set.add("abc123");
    expect([set.has("abc123"), set.size]).toEqual([true, 1]);
  });

  test("a joined page adds exactly what adding each code adds, long codes included", () => {
    const codes = Array.from({ length: 5_000 }, (_, i) => randomCode(1 + (i % 16)));
    const one = createCodeSet();
    for (const code of codes) one.add(code);
    const joined = createCodeSet();
    joined.addJoined(codes.join(" "));
    joined.addJoined("");
    expect(joined.size).toBe(one.size);
    const strangers = Array.from({ length: 5_000 }, () => randomCode(7));
    expect([...codes, ...strangers].filter((code) => joined.has(code) !== one.has(code))).toEqual([]);
  });

  test("stays at most half full: 1,000,000 codes take 16 MiB of table", () => {
    const set = createCodeSet(1_000_000);
    for (let i = 0; i < 1_000_000; i++) set.add(`b${String(i).padStart(6, "0")}`);
    expect(set.size).toBe(1_000_000);
    expect(set.bytes).toBe(2 ** 21 * 8);
    expect(set.has("b000000") && set.has("b999999") && !set.has("c000000")).toBe(true);
  });
});
