/**
 * The Redis encoding of a link with options (issue #18), and how it meets releases on either side
 * of it during a rolling upgrade: what an older release wrote still decodes, and what this one
 * writes for a link with options is, to an older release, a value linkfort did not write.
 */
import { describe, expect, test } from "bun:test";
import { decode, encode, expiredAt, linkOptions, type Found, type Lookup } from "./model.ts";

const found = (options?: Found["options"]): Found =>
  options === undefined
    ? { kind: "found", urlId: 42, location: "https://example.com/a?b=1#c", source: "db" }
    : { kind: "found", urlId: 42, location: "https://example.com/a?b=1#c", source: "db", options };

// The found-value pattern of every release before link options (commit 36243e2 and earlier),
// copied here because those releases are what is running on the other side of an upgrade.
const OLDER_RELEASE_FOUND = /^f([1-9][0-9]{0,15}) ([\x21-\x7E]+)$/;
const olderReleaseReads = (raw: string) => raw === "m" || raw === "i" || OLDER_RELEASE_FOUND.test(raw);

const WITH_OPTIONS: NonNullable<Found["options"]>[] = [
  { expiresAt: 1_798_761_600_000 },
  { maxClicks: 1 },
  { forwardQuery: true },
  { expiresAt: 0, maxClicks: Number.MAX_SAFE_INTEGER, forwardQuery: true },
];

describe("the Redis value of a link", () => {
  test("without options is the plain form every release reads, byte for byte as before", () => {
    expect(encode(found())).toBe("f42 https://example.com/a?b=1#c");
    expect(olderReleaseReads(encode(found()))).toBe(true);
    expect(decode("f42 https://example.com/a?b=1#c")).toEqual({ ...found(), source: "redis" });
  });

  test("with options round-trips every option, and the decoded value has no option it was not given", () => {
    for (const options of WITH_OPTIONS) {
      const raw = encode(found(options));
      expect(raw, raw).toStartWith("o42 ");
      expect(decode(raw), raw).toEqual({ ...found(options), source: "redis" });
    }
    expect(encode(found({ expiresAt: 5, forwardQuery: true }))).toBe("o42 5 - q https://example.com/a?b=1#c");
  });

  test("with options is not a value an older release reads: it is a miss there, never a plain redirect", () => {
    for (const options of WITH_OPTIONS) expect(olderReleaseReads(encode(found(options)))).toBe(false);
  });

  test("with options that this release did not write is a miss", () => {
    const hostile = [
      "o42 - - - https://example.com/", // no option at all: encode writes "f" then
      "o42 8640000000000001 - - https://example.com/", // past the last Date
      "o42 -5 - - https://example.com/",
      "o42 1.5 - - https://example.com/",
      "o42 01 - - https://example.com/",
      "o42 - 0 - https://example.com/", // a cap of 0 is not a cap the API allows
      "o42 - 9007199254740993 - https://example.com/", // past 2^53: would round
      "o42 - - Q https://example.com/",
      "o42 - - qq https://example.com/",
      "o42 5 - q javascript:alert(1)",
      "o42 5 - q //evil.example/",
      "o42 5 - q https://evil.example/\r\nSet-Cookie: a=b",
      "o42 5 -  q https://example.com/",
      "o42 5 - q",
      "o0 5 - q https://example.com/",
      "o 5 - q https://example.com/",
      "O42 5 - q https://example.com/",
    ];
    for (const raw of hostile) expect(decode(raw), JSON.stringify(raw)).toBeUndefined();
  });
});

describe("link options from a urls row", () => {
  test("a row without options has none (the common case allocates nothing more)", () => {
    expect(linkOptions({ expires_at: null, max_clicks: null, forward_query: false })).toBeUndefined();
  });

  test("an expiry is whole ms rounded up, and values the encoding cannot carry are clamped to equivalent ones", () => {
    expect(linkOptions({ expires_at: 1_000.001, max_clicks: "3", forward_query: true })).toEqual({ expiresAt: 1_001, maxClicks: 3, forwardQuery: true });
    const clamped = linkOptions({ expires_at: -86_400_000, max_clicks: "9223372036854775807", forward_query: false });
    expect(clamped).toEqual({ expiresAt: 0, maxClicks: Number.MAX_SAFE_INTEGER });
    const lookup: Lookup = { ...found(), options: clamped };
    expect(decode(encode(lookup))).toEqual({ ...lookup, source: "redis" });
  });
});

describe("expiry", () => {
  test("a link is expired from its expiresAt on, and never without one", () => {
    const link = found({ expiresAt: 10_000, forwardQuery: true });
    expect(expiredAt(link, 9_999)).toBeUndefined();
    expect(expiredAt(link, 10_000)).toEqual({ kind: "expired", source: "db", expiresAt: 10_000 });
    expect(expiredAt(found(), Number.MAX_SAFE_INTEGER)).toBeUndefined();
    expect(expiredAt(found({ maxClicks: 1 }), Number.MAX_SAFE_INTEGER)).toBeUndefined();
  });
});
