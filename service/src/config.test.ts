import { describe, expect, test } from "bun:test";
import { ConfigError } from "./lib/env.ts";
import { loadServiceConfig } from "./config.ts";

describe("PUBLIC_URL", () => {
  test("defaults to the quick start's address", () => {
    expect(loadServiceConfig({}).publicUrl).toBe("http://127.0.0.1:8080");
  });

  test("is kept as a bare origin: a trailing slash, letter case and a default port are normalised away", () => {
    const cases: [string, string][] = [
      ["https://s.example.com", "https://s.example.com"], ["https://s.example.com/", "https://s.example.com"],
      ["HTTPS://S.Example.COM:443/", "https://s.example.com"], ["http://10.0.0.5:8080", "http://10.0.0.5:8080"],
      ["http://[::1]:8080/", "http://[::1]:8080"], ["https://bücher.example/", "https://xn--bcher-kva.example"],
    ];
    for (const [raw, origin] of cases) expect(loadServiceConfig({ PUBLIC_URL: raw }).publicUrl, raw).toBe(origin);
  });

  test("refuses anything that is not an http(s) origin, naming the variable", () => {
    for (const raw of ["s.example.com", "ftp://s.example.com", "https://s.example.com/links", "https://s.example.com/?a=1",
      "https://s.example.com/#top", "https://user:pw@s.example.com", "javascript:alert(1)", "https://"]) {
      let error: unknown;
      try { loadServiceConfig({ PUBLIC_URL: raw }); } catch (e) { error = e; }
      expect(error, raw).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems.join("\n"), raw).toContain("PUBLIC_URL=");
    }
  });
});
