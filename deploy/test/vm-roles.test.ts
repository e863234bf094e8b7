/**
 * install.sh's cluster roles on one real systemd (deploy/test/bed.sh, one container): `--role db`
 * with `--db-hosts 127.0.0.1` makes a one-member etcd and a one-node Patroni cluster, then
 * `--role app` on the same VM runs the service against it through the multi-host read-write URL
 * (its first host unreachable). Both re-runs change nothing. The three-db, two-app, one-edge
 * cluster on a private bridge is deploy/test/cluster.test.ts; the edge profile live is
 * deploy/test/caddyfile-edge.test.ts. Needs root (or password-free sudo), systemd-nspawn and
 * mmdebstrap, like deploy/test/vm.test.ts. Uninstalled, the same VM then becomes an edge in front
 * of a stand-in app VM on its loopback, and upgrade.sh and --rollback move the edge's release.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { requireTool } from "../../service/test/tools.ts";
import { createBed, HOST_TOOLS, type Bed } from "./vm-bed.ts";
import { buildRelease, packageVersion, removeReleaseOutput } from "./vm-releases.ts";
import { guestHttp, snapshotDeployment } from "./vm-guest.ts";

const ROOT = join(import.meta.dir, "../..");
const MINUTE = 60_000;
const CLUSTER_ENV = "/etc/linkfort/cluster.env";
// 192.0.2.0/24 is documentation space and the guest has no route: the client must skip to the next.
const APP_DB_HOSTS = "192.0.2.1,127.0.0.1,192.0.2.2";

/** What the db role manages, beside snapshotDeployment's: its units and files. */
const CLUSTER_SNAPSHOT = `
set -euo pipefail
for u in patroni.service etcd.service; do
  echo "unit $u $(systemctl show -P MainPID "$u") $(systemctl show -P NRestarts "$u") $(systemctl show -P ActiveEnterTimestampMonotonic "$u")"
done
find /etc/patroni /etc/default/etcd /etc/systemd/system/etcd.service.d /etc/postgresql-common/createcluster.d ${CLUSTER_ENV} -type f -exec stat -c '%n %a %U %Y' {} + | sort
find /etc/patroni /etc/default/etcd /etc/systemd/system/etcd.service.d ${CLUSTER_ENV} -type f -exec sha256sum {} + | sort
`;

/** What the edge role manages: Caddy's unit, config and drop-in, the env file, the release. */
const EDGE_SNAPSHOT = `
set -euo pipefail
echo "unit caddy $(systemctl show -P MainPID caddy) $(systemctl show -P NRestarts caddy) $(systemctl show -P ActiveEnterTimestampMonotonic caddy)"
find /etc/linkfort /etc/caddy /opt/linkfort /etc/systemd/system/caddy.service.d -type f -exec stat -c '%n %a %U %Y' {} + | sort
find /etc/linkfort /etc/caddy /etc/systemd/system/caddy.service.d -type f -exec sha256sum {} + | sort
find /opt/linkfort /usr/local/bin -type l -printf '%p -> %l\\n' | sort
`;

describe("install.sh --role db, then --role app, on one VM", () => {
  const dir = `/tmp/bed-roles-test-${process.pid}`;
  let bed: Bed;
  let release: { version: string; tarball: string };
  let next: { version: string; tarball: string };
  let adminKey = "";
  const installed = (role: string, hosts: string) => `/root/linkfort-${release.version}/deploy/install.sh --role ${role} --db-hosts ${hosts} --cluster-env ${CLUSTER_ENV}`;

  beforeAll(async () => {
    bed = createBed({ dir, name: `lfroles${process.pid}`, monitoring: false, env: { BED_CLUSTER: "1" } });
    for (const command of HOST_TOOLS) requireTool(command);
    const [built] = await Promise.all([
      bed.bedSh(["build"]),
      (async () => {
        release = await buildRelease(bed.shared, `${await packageVersion()}-rolestest.1`);
        next = await buildRelease(bed.shared, `${await packageVersion()}-rolestest.2`);
      })(),
    ]);
    if (built.code !== 0) throw new Error(`bed.sh build failed:\n${built.stdout.slice(-3000)}\n${built.stderr.slice(-3000)}`);
    const up = await bed.bedSh(["up"]);
    if (up.code !== 0) throw new Error(`bed.sh up failed:\n${up.stdout}\n${up.stderr}`);
    await bed.sh(`tar -xzf /shared/linkfort-${release.version}-linux-x64.tar.gz -C /root`);
  }, 8 * MINUTE);

  afterAll(async () => {
    if (bed) await bed.remove();
    for (const r of [release, next]) if (r) await removeReleaseOutput(r.version);
  }, 2 * MINUTE);

  test("install.sh refuses a role's wrong or missing arguments, naming what is wrong, before touching anything", () => {
    const refusals: [string[], string][] = [
      [["--role", "dbx"], '--role must be all, db, app or edge, not "dbx"'],
      [["--role", "db", "--cluster-env", CLUSTER_ENV], "--role db needs --db-hosts H1,H2,H3"],
      [["--role", "db", "--db-hosts", "db1,db2", "--cluster-env", CLUSTER_ENV], "etcd needs an odd number"],
      [["--role", "app", "--db-hosts", "db1:5432", "--cluster-env", CLUSTER_ENV], '--db-hosts: "db1:5432" is not a host name'],
      [["--role", "app", "--db-hosts", "db1", "--cluster-env", "cluster.env"], "--cluster-env needs an absolute path"],
      [["--role", "edge", "--app-hosts", "app1"], '--app-hosts: "app1" is not HOST:PORT'],
      [["--role", "edge", "--app-hosts", "app1:8080", "--instances", "2"], "--role edge does not take --instances"],
      [["--db-hosts", "db1"], "--role all does not take --db-hosts"],
    ];
    for (const [args, message] of refusals) {
      const r = Bun.spawnSync([join(ROOT, "deploy/install.sh"), ...args], { stdout: "pipe", stderr: "pipe" });
      expect([args.join(" "), r.exitCode, r.stderr.toString()]).toEqual([args.join(" "), 1, expect.stringContaining(message)]);
    }
  });

  test("--role db: Patroni runs PostgreSQL as the leader, synchronous_mode on, no Debian main cluster, role and database linkfort, the cluster env made 0600", async () => {
    const run = await bed.exec(installed("db", "127.0.0.1"));
    if (run.code !== 0) throw new Error(`install.sh --role db failed (exit ${run.code}):\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}\n${(await bed.exec("journalctl -u patroni -u etcd -n 60 --no-pager")).stdout}`);
    expect(run.stdout).toContain(`NEW cluster secrets: ${CLUSTER_ENV}`);
    expect(await bed.sh(`stat -c '%a %U' ${CLUSTER_ENV} /etc/patroni/config.yml /etc/patroni/linkfort-bootstrap.env`)).toBe("600 root\n600 postgres\n600 postgres");
    expect(await bed.sh(`grep -Eo '^[A-Z_]+=[0-9a-f]{48}$' ${CLUSTER_ENV} | cut -d= -f1`)).toBe("LINKFORT_DB_PASSWORD\nSUPERVISOR_DB_PASSWORD\nREPLICATION_PASSWORD\nSUPERUSER_PASSWORD\nREWIND_PASSWORD");
    const members = JSON.parse(await bed.sh("patronictl -c /etc/patroni/config.yml list -f json")) as { Member: string; Role: string; State: string }[];
    expect(members.map((m) => [m.Role, m.State])).toEqual([["Leader", "running"]]);
    const config = JSON.parse(await bed.sh("curl -s http://127.0.0.1:8008/config")) as { synchronous_mode?: boolean; postgresql?: { use_pg_rewind?: boolean } };
    expect([config.synchronous_mode, config.postgresql?.use_pg_rewind]).toEqual([true, true]);
    expect(await bed.sh("pg_lsclusters -h | wc -l")).toBe("0");
    expect(await bed.sh("runuser -u postgres -- psql -X -At -c \"select rolname, rolcreatedb, rolsuper from pg_roles where rolname = 'linkfort'\" -c \"select pg_get_userbyid(datdba) from pg_database where datname = 'linkfort'\""))
      .toBe("linkfort|f|f\nlinkfort");
    expect(await bed.sh("ETCDCTL_API=3 etcdctl member list -w simple | cut -d, -f2-4")).toBe("started, 127.0.0.1, http://127.0.0.1:2380");
  }, 5 * MINUTE);

  test("a second --role db run changes nothing and restarts nothing", async () => {
    const before = await bed.sh(CLUSTER_SNAPSHOT);
    const out = await bed.sh(installed("db", "127.0.0.1"));
    expect(out).not.toContain("NEW cluster secrets");
    expect(await bed.sh(CLUSTER_SNAPSHOT)).toBe(before);
  }, 3 * MINUTE);

  test("--role app on the multi-host URL (first host unreachable): every instance ready, a link made with the new admin key redirects, its row is in Patroni's PostgreSQL", async () => {
    const run = await bed.exec(installed("app", APP_DB_HOSTS));
    if (run.code !== 0) throw new Error(`install.sh --role app failed (exit ${run.code}):\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}\n${(await bed.exec("journalctl -u 'linkfort@*' -u linkfort-supervisor -n 60 --no-pager")).stdout}`);
    adminKey = /admin API key \(shown once[^\n]*\n\s+(\S+)/.exec(run.stdout)?.[1] ?? "";
    expect(adminKey, run.stdout).toMatch(/^lf_/);
    const url = (role: string) => `postgres://${role}:[0-9a-f]{48}@192.0.2.1:5432,127.0.0.1:5432,192.0.2.2:5432/linkfort\\?target_session_attrs=read-write`;
    expect(await bed.sh(`grep -cE '^DATABASE_URL=${url("linkfort")}$' /etc/linkfort/linkfort.env`)).toBe("1");
    // The supervisor's own role, as on one VM: CREATEDB (the restore check) and a member of linkfort.
    expect(await bed.sh(`grep -cE '^DATABASE_URL=${url("linkfort_supervisor")}$' /etc/linkfort/supervisor.env`)).toBe("1");
    expect(await bed.sh(`runuser -u postgres -- psql -X -At -c "select rolcreatedb, pg_has_role('linkfort_supervisor', 'linkfort', 'MEMBER') from pg_roles where rolname = 'linkfort_supervisor'"`)).toBe("t|t");
    // The service's role password is the cluster env's, not one of its own.
    expect(await bed.sh(`[ "$(sed -n 's/^LINKFORT_DB_PASSWORD=//p' ${CLUSTER_ENV})" = "$(sed -nE 's|^DATABASE_URL=postgres://linkfort:([0-9a-f]+)@.*|\\1|p' /etc/linkfort/linkfort.env)" ] && echo same`)).toBe("same");
    const units = ["linkfort@8081", "linkfort@8082", "linkfort@8083", "linkfort-supervisor", "redis-server", "caddy", "patroni", "etcd"];
    expect((await bed.exec(`systemctl is-active ${units.join(" ")}`)).stdout.trim().split("\n")).toEqual(units.map(() => "active"));

    const user = await guestHttp(bed, "POST", "/users", { key: adminKey, body: { username: "rolestest", email: "rolestest@example.com" } });
    expect(user.status, user.raw).toBe(201);
    const link = await guestHttp(bed, "POST", "/urls", { key: adminKey, body: { user_id: (user.json as { id: number }).id, original_url: "https://example.com/roles" } });
    expect(link.status, link.raw).toBe(201);
    const code = (link.json as { short_code: string }).short_code;
    const redirect = await guestHttp(bed, "GET", `/${code}`);
    expect([redirect.status, redirect.headers.get("location")]).toEqual([302, "https://example.com/roles"]);
    expect(await bed.sh(`runuser -u postgres -- psql -X -At -d linkfort -c "select original_url from urls where short_code = '${code}'"`)).toBe("https://example.com/roles");
  }, 5 * MINUTE);

  test("a second --role app run changes nothing, restarts nothing and prints no new key", async () => {
    const before = [...await snapshotDeployment(bed), await bed.sh(CLUSTER_SNAPSHOT)];
    const out = await bed.sh(installed("app", APP_DB_HOSTS));
    expect(out).toContain("admin API key: in /etc/linkfort/admin-key");
    expect(out).not.toContain(adminKey);
    expect([...await snapshotDeployment(bed), await bed.sh(CLUSTER_SNAPSHOT)]).toEqual(before);
  }, 3 * MINUTE);

  test("another app VM's install (no admin-key file of its own) makes no second admin key: it says where the first one is", async () => {
    await bed.sh("mv /etc/linkfort/admin-key /root/admin-key.first");
    try {
      const out = await bed.sh(installed("app", APP_DB_HOSTS));
      expect(out).toContain("admin API key: in /etc/linkfort/admin-key on the app VM installed first");
      expect(out).not.toMatch(/shown once/);
      expect(await bed.sh("runuser -u postgres -- psql -X -At -d linkfort -c \"select count(*) from api_keys where scope = 'admin'\"")).toBe("1");
      expect((await bed.exec("test -e /etc/linkfort/admin-key")).code).toBe(1);
    } finally {
      await bed.sh("mv /root/admin-key.first /etc/linkfort/admin-key");
    }
  }, 3 * MINUTE);

  test("--role edge cannot join an app VM (both would own Caddy); the VM keeps its roles", async () => {
    const edge = await bed.exec(`/root/linkfort-${release.version}/deploy/install.sh --role edge --app-hosts 127.0.0.1:8080`);
    expect([edge.code, edge.stderr]).toEqual([1, expect.stringContaining("--role edge cannot join it")]);
    const current = await bed.exec("cat /etc/linkfort/role");
    expect(current.stdout.trim()).toBe("db app");
  });

  test("uninstall.sh --purge --yes stops Patroni and etcd, removes their data and linkfort, and leaves the cluster's OS packages", async () => {
    const out = await bed.sh("/opt/linkfort/current/deploy/uninstall.sh --purge --yes");
    expect(out).toContain("linkfort is uninstalled");
    expect((await bed.exec("systemctl is-active patroni etcd linkfort-supervisor")).stdout.trim().split("\n")).toEqual(["inactive", "inactive", "inactive"]);
    expect((await bed.exec("ls -d /var/lib/postgresql/15/linkfort /var/lib/etcd/linkfort /etc/patroni/config.yml /etc/linkfort /opt/linkfort 2>/dev/null")).stdout).toBe("");
    expect(await bed.sh("dpkg-query -W -f='${Status}\\n' patroni etcd-server")).toBe("install ok installed\ninstall ok installed");
  }, 3 * MINUTE);

  test("--role edge (on the uninstalled VM): Caddy alone, in front of --app-hosts, answers /ready from the app VM; a re-run changes nothing", async () => {
    // A stand-in app VM's Caddy on the guest's loopback: python3 came with patroni.
    await bed.sh("mkdir -p /root/app && printf '{\"status\":\"ready\"}' > /root/app/ready && printf 'app page' > /root/app/page");
    const app = bed.spawn("exec python3 -m http.server 8090 --bind 127.0.0.1 --directory /root/app");
    try {
      const run = await bed.exec(`/root/linkfort-${release.version}/deploy/install.sh --role edge --app-hosts 127.0.0.1:8090`);
      if (run.code !== 0) throw new Error(`install.sh --role edge failed (exit ${run.code}):\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}\n${(await bed.exec("journalctl -u caddy -n 40 --no-pager")).stdout}`);
      expect(run.stdout).toContain(`linkfort edge ${release.version} is running: http://`);
      expect(await bed.sh("cat /etc/linkfort/role; grep -E '^LINKFORT_(PROFILE|APP_UPSTREAMS)=' /etc/linkfort/caddy.env"))
        .toBe('edge\nLINKFORT_PROFILE=edge\nLINKFORT_APP_UPSTREAMS="127.0.0.1:8090"');
      expect(await bed.sh("curl -s --max-time 5 http://127.0.0.1:8080/page")).toBe("app page");
      expect((await guestHttp(bed, "GET", "/metrics")).status).toBe(404);
      // No linkfort service of its own (Redis, a package the app role installed, keeps running after uninstall).
      expect((await bed.exec("systemctl is-active linkfort-supervisor linkfort.target patroni")).stdout.trim().split("\n")).toEqual(["inactive", "inactive", "inactive"]);

      const before = await bed.sh(EDGE_SNAPSHOT);
      await bed.sh(`/root/linkfort-${release.version}/deploy/install.sh --role edge --app-hosts 127.0.0.1:8090`);
      expect(await bed.sh(EDGE_SNAPSHOT)).toBe(before);

      const upgraded = await bed.sh(`/opt/linkfort/current/deploy/upgrade.sh /shared/linkfort-${next.version}-linux-x64.tar.gz`);
      expect(upgraded).toContain(`linkfort edge ${next.version} is running (previous: ${release.version}`);
      const back = await bed.sh("/opt/linkfort/current/deploy/upgrade.sh --rollback");
      expect(back).toContain(`linkfort edge ${release.version} is running (previous: ${next.version}`);
      expect(await bed.sh("readlink /opt/linkfort/current; curl -s --max-time 5 http://127.0.0.1:8080/page")).toBe(`/opt/linkfort/releases/${release.version}\napp page`);
    } finally {
      app.kill();
    }
  }, 5 * MINUTE);
});
