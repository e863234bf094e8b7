/** The URL and naming parts of dump-source.ts (the server choice itself: supervisor/test/backups.cluster.test.ts). */
import { describe, expect, test } from "bun:test";
import { chooseDumpSource, describeHost, primaryHostUrl, urlForHost } from "./dump-source.ts";

const CLUSTER = "postgres://linkfort:p%40ss@db1:5432,db2:5433,[fd00::3]:5432/linkfort?target_session_attrs=read-write&sslmode=disable";

describe("urlForHost", () => {
  test("one host of a cluster URL, credentials and other parameters kept, target_session_attrs dropped", () => {
    expect(urlForHost(CLUSTER, { host: "db2", port: 5433 })).toBe("postgres://linkfort:p%40ss@db2:5433/linkfort?sslmode=disable");
    expect(urlForHost(CLUSTER, { host: "fd00::3", port: 5432 })).toBe("postgres://linkfort:p%40ss@[fd00::3]:5432/linkfort?sslmode=disable");
  });
});

describe("describeHost", () => {
  test("host:port, an IPv6 address in brackets", () => {
    expect(describeHost({ host: "db1", port: 5432 })).toBe("db1:5432");
    expect(describeHost({ host: "fd00::3", port: 5432 })).toBe("[fd00::3]:5432");
  });
});

describe("a URL with one host (one VM) is dumped as given, nothing probed", () => {
  test("chooseDumpSource: that server, as the primary", async () => {
    const url = "postgres://linkfort:pw@127.0.0.1:1/linkfort"; // port 1: any probe would fail
    const choice = await chooseDumpSource({ databaseUrl: url, readPrimary: () => Promise.reject(new Error("not to be asked")) });
    expect(choice).toEqual({ chosen: { server: "127.0.0.1:1", role: "primary", url, reason: "DATABASE_URL names one server (127.0.0.1:1)" }, primary: null });
  });

  test("primaryHostUrl: unchanged", async () => {
    expect(await primaryHostUrl("postgres://u:pw@127.0.0.1:1/db?target_session_attrs=read-write")).toBe("postgres://u:pw@127.0.0.1:1/db?target_session_attrs=read-write");
  });
});

describe("a cluster URL whose hosts do not answer", () => {
  const url = "postgres://u:pw@127.0.0.1:1,127.0.0.1:2/db?target_session_attrs=read-write"; // ports 1, 2: refused

  test("chooseDumpSource: the URL itself (its rules find the primary, if any), and why no standby", async () => {
    const { chosen, primary } = await chooseDumpSource({ databaseUrl: url, readPrimary: async () => ({ systemId: "1", walLsn: "0/0" }) });
    expect(primary).toBeNull();
    expect(chosen).toMatchObject({ server: "127.0.0.1:1,127.0.0.1:2", role: "primary", url });
    expect(chosen.reason).toMatch(/^no healthy standby: 127\.0\.0\.1:1 unreachable \(.+\); 127\.0\.0\.1:2 unreachable \(.+\)$/);
  });

  test("primaryHostUrl: unchanged", async () => {
    expect(await primaryHostUrl(url)).toBe(url);
  });
});
