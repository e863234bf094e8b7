/**
 * The nftables link cut on loopback (root): a listener on a random port stops accepting while the
 * cut holds and accepts again after it, other ports are untouched, and a drill killed mid-cut
 * leaves a cut the kernel ends by itself and a table the next drill deletes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { join } from "node:path";
import { requireTool } from "../../../service/test/tools.ts";
import { pollUntil } from "./stack.ts";
import { cutLink, cutRefusal, removeStaleTables } from "./link-cut.ts";

let cutServer: net.Server;
let otherServer: net.Server;
let cutPort: number;
let otherPort: number;

const listen = () => new Promise<net.Server>((resolve) => { const s = net.createServer((c) => c.end("hi")); s.listen(0, "127.0.0.1", () => resolve(s)); });
const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

/** True when a TCP connection to the port opens within `ms` (a cut drops the SYN: no refusal, just nothing). */
function connects(port: number, ms = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    const timer = setTimeout(() => { socket.destroy(); resolve(false); }, ms);
    socket.once("connect", () => { clearTimeout(timer); socket.destroy(); resolve(true); });
    socket.once("error", () => { clearTimeout(timer); resolve(false); });
  });
}

const tables = () => Bun.spawnSync([requireTool("nft"), "list", "tables"], { stdout: "pipe" }).stdout.toString();

beforeAll(async () => {
  requireTool("nft");
  const refused = cutRefusal();
  if (refused) throw new Error(refused);
  [cutServer, otherServer] = await Promise.all([listen(), listen()]);
  cutPort = portOf(cutServer);
  otherPort = portOf(otherServer);
});

afterAll(() => {
  cutServer?.close();
  otherServer?.close();
});

describe("link cut", () => {
  test("drops the port's packets while it holds, only that port's, and deletes its table after", async () => {
    expect(await connects(cutPort)).toBe(true);
    const cut = cutLink([{ host: "127.0.0.1", port: cutPort }], 3_000);
    const during = await pollUntil(async () => tables().includes(`linkfort_drill_${process.pid}`), 2_000, 20);
    expect(during).not.toBeNull();
    const [cutAnswered, otherAnswered] = await Promise.all([connects(cutPort), connects(otherPort)]);
    expect(cutAnswered).toBe(false);
    expect(otherAnswered).toBe(true);
    const result = await cut;
    expect(result.cut).toEqual([`127.0.0.1:${cutPort}`]);
    expect(result.droppedPackets).toBeGreaterThan(0);
    expect(tables()).not.toContain(`linkfort_drill_${process.pid}`);
    expect(await connects(cutPort)).toBe(true);
  });

  test("a drill killed mid-cut: the kernel ends the cut on time, and the next drill deletes the dead drill's table", async () => {
    const script = `import { cutLink } from ${JSON.stringify(join(import.meta.dir, "link-cut.ts"))}; await cutLink([{ host: "127.0.0.1", port: ${cutPort} }], 4_000);`;
    const drill = Bun.spawn([process.execPath, "-e", script], { stdout: "ignore", stderr: "pipe" });
    const table = `linkfort_drill_${drill.pid}`;
    try {
      expect(await pollUntil(async () => tables().includes(table), 10_000, 20)).not.toBeNull();
    } finally {
      drill.kill("SIGKILL");
    }
    await drill.exited;
    expect(await connects(cutPort)).toBe(false);
    // Nothing deletes the table now: only the element's timeout can end the cut.
    expect(await pollUntil(() => connects(cutPort), 10_000, 50)).not.toBeNull();
    expect(tables()).toContain(table);
    expect(await removeStaleTables()).toBeGreaterThanOrEqual(1);
    expect(tables()).not.toContain(table);
  });

  test("without CAP_NET_ADMIN the fault is unavailable, saying what it needs", () => {
    // setpriv (util-linux) drops the capability from the bounding set, so the child's effective set lacks it, even as root.
    const script = `import { cutRefusal } from ${JSON.stringify(join(import.meta.dir, "link-cut.ts"))}; console.log(cutRefusal());`;
    const child = Bun.spawnSync([requireTool("setpriv"), "--bounding-set", "-net_admin", "--", process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    expect(child.stdout.toString().trim(), child.stderr.toString()).toBe("adding nftables rules needs CAP_NET_ADMIN: run the drill as root");
    expect(cutRefusal()).toBeNull();
  });
});
