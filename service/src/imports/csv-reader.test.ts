import { describe, expect, test } from "bun:test";
import { MAX_RECORD_CHARS, readCsvRecords, type CsvRecord } from "./csv-reader.ts";

const utf8 = (text: string) => new TextEncoder().encode(text);
const bytes = (...parts: (string | number[])[]) => new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...utf8(p)] : p)));

/** Reads `input` cut into chunks of `size` bytes, as a file stream or an upload would deliver it. */
async function read(input: Uint8Array, size = input.length || 1): Promise<CsvRecord[]> {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < input.length; i += size) chunks.push(input.subarray(i, i + size));
  const out: CsvRecord[] = [];
  for await (const batch of readCsvRecords(chunks)) out.push(...batch);
  return out;
}

/** The same records whatever the chunk size: a chunk may end inside a quote, a CRLF or a character. */
async function expectChunkingIrrelevant(input: Uint8Array): Promise<CsvRecord[]> {
  const whole = await read(input);
  for (let size = 1; size <= 17; size++) expect(await read(input, size), `chunk size ${size}`).toEqual(whole);
  return whole;
}

describe("readCsvRecords", () => {
  test("reads RFC 4180 quoting, CRLF, a BOM and multi-byte text, with the line each record starts on", async () => {
    const input = bytes("\uFEFFid,username,email\r\n", '1,"a,b","say ""hi"""\r\n', "\r\n", '2,"two\r\nlines",é€𝄞\r\n', "3,x,y");
    expect(await expectChunkingIrrelevant(input)).toEqual([
      { line: 1, fields: ["id", "username", "email"] },
      { line: 2, fields: ["1", "a,b", 'say "hi"'] },
      { line: 4, fields: ["2", "two\r\nlines", "é€𝄞"] },
      { line: 6, fields: ["3", "x", "y"] },
    ]);
  });

  test("keeps a U+FEFF that is not the first character", async () => {
    expect(await read(bytes("a\n\uFEFFb\n"))).toEqual([{ line: 1, fields: ["a"] }, { line: 2, fields: ["\uFEFFb"] }]);
  });

  test("marks only the record with invalid UTF-8; its neighbours and a genuine U+FFFD stay good", async () => {
    const input = bytes("h,v\n1,ok\n2,", [0xff, 0xc3], ",x\n3,\uFFFD\n4,", [0xed, 0xa0, 0x80], "\n5,", [0xe2, 0x82], "\n6,end");
    const records = await expectChunkingIrrelevant(input);
    expect(records.map((r) => [r.line, r.problem])).toEqual([
      [1, undefined], [2, undefined],
      [3, "contains bytes that are not valid UTF-8"],
      [4, undefined],
      [5, "contains bytes that are not valid UTF-8"], // an encoded surrogate is not UTF-8
      [6, "contains bytes that are not valid UTF-8"], // a sequence cut short by the newline
      [7, undefined],
    ]);
    expect(records[3]!.fields).toEqual(["3", "\uFFFD"]);
  });

  test("a file that ends inside a multi-byte character marks its last record", async () => {
    expect((await read(bytes("h\nab", [0xe2, 0x82])))[1]).toEqual({ line: 2, fields: ["ab\udce2\udc82"], problem: "contains bytes that are not valid UTF-8" });
  });

  test("marks a NUL character and broken quoting", async () => {
    const records = await read(bytes('h,v\n1,a\u0000b\n2,"open'));
    expect(records.slice(1)).toEqual([
      { line: 2, fields: ["1", "a\u0000b"], problem: "contains a NUL character, which the database cannot store" },
      { line: 3, fields: ["2", "open"], problem: "malformed quoting: Quoted field unterminated" },
    ]);
  });

  test("skips blank lines but counts them, and gives no record for a trailing newline", async () => {
    expect(await read(bytes("h\n\n\r\nx\n\n"))).toEqual([{ line: 1, fields: ["h"] }, { line: 4, fields: ["x"] }]);
    expect(await read(bytes(""))).toEqual([]);
  });

  test("stops with a reason when a record outgrows the limit (an unclosed quote), instead of buffering the file", async () => {
    const line = `x,"${"a".repeat(1000)}\n`;
    const input = utf8(`h,v\n1,"open\n${line.repeat(Math.ceil(MAX_RECORD_CHARS / line.length) + 10)}`);
    const records = await read(input, 64 * 1024);
    expect(records.at(-1)).toEqual({ line: 2, fields: [], problem: `a record is longer than ${MAX_RECORD_CHARS} characters (an unclosed quote?); reading stopped here` });
  });
});
