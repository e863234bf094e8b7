import { describe, expect, test } from "bun:test";
import { parseDatabaseUrl, redactDatabaseUrl, withDatabase } from "./database-url.ts";
import { postgresUrl, redactValue, ConfigProblem } from "./env.ts";

const CLUSTER = "postgres://linkfort:p%40ss@db1:5432,db2:5433,[fd00::3]/linkfort?target_session_attrs=read-write";

describe("multi-host DATABASE_URL", () => {
  test("every host, the decoded credentials, the database and the parameters are read", () => {
    const url = parseDatabaseUrl(CLUSTER);
    expect(url.hosts).toEqual([{ host: "db1", port: 5432 }, { host: "db2", port: 5433 }, { host: "fd00::3", port: 5432 }]);
    expect([url.user, url.password, url.database, url.params.get("target_session_attrs")]).toEqual(["linkfort", "p@ss", "linkfort", "read-write"]);
  });

  test("another database keeps every host, the credentials and the parameters", () => {
    expect(withDatabase(CLUSTER, "linkfort_restore")).toBe("postgres://linkfort:p%40ss@db1:5432,db2:5433,[fd00::3]:5432/linkfort_restore?target_session_attrs=read-write");
    expect(withDatabase("postgres://u:pw@127.0.0.1:5555/postgres", "x")).toBe("postgres://u:pw@127.0.0.1:5555/x");
  });

  test("redaction hides the password wherever it is, keeps the hosts", () => {
    expect(redactDatabaseUrl(`${CLUSTER}&password=secret`)).toBe("postgres://linkfort:***@db1:5432,db2:5433,[fd00::3]:5432/linkfort?target_session_attrs=read-write");
    const shown = redactValue(CLUSTER, true);
    expect(shown).toBe('"postgres://linkfort:***@db1:5432,db2:5433,[fd00::3]:5432/***"');
    expect(shown).not.toContain("p%40ss");
  });

  test("config validation accepts the cluster form and names what is wrong with a bad one", () => {
    expect(postgresUrl(CLUSTER)).toBe(CLUSTER);
    expect((postgresUrl("postgres://u@db1:5432,db2:x/db") as ConfigProblem).reason).toContain('"db2:x"');
    expect((postgresUrl("postgres://u@db1,db2/db?target_session_attrs=standby") as ConfigProblem).reason).toContain("target_session_attrs");
    expect((postgresUrl("postgres://u@db1,db2/db") as ConfigProblem).reason).toContain("target_session_attrs=read-write");
    // Other code (backups from a replica) may still read such URLs.
    expect(parseDatabaseUrl("postgres://u@db1,db2/db?target_session_attrs=standby").hosts).toHaveLength(2);
    expect((postgresUrl("mysql://u@db1/db") as ConfigProblem).reason).toContain("postgres://");
    // No host: the driver's default (PGHOST, a local socket), as before.
    expect(postgresUrl("postgres:///linkfort")).toBe("postgres:///linkfort");
    expect(withDatabase("postgres:///linkfort", "other")).toBe("postgres:///other");
  });
});
