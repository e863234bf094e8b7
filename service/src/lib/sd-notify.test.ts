/**
 * sd_notify against a real unix datagram listener: a small python3 receiver that binds the
 * socket systemd would (a path, or an abstract "@name") and prints each datagram with the
 * sender's PID from SCM_CREDENTIALS, which is what NotifyAccess=main checks. The last test runs
 * the compiled `linkfort` binary, so bun:ffi is proven inside `bun build --compile` too.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBinary, startBinary } from "../../test/binary.ts";
import { createDatabase, dropDatabase } from "../../test/pg.ts";
import { requireTool } from "../../test/tools.ts";
import { waitFor as waitForCondition } from "../../test/wait.ts";
import { createSystemdNotifier } from "./sd-notify.ts";


const RECEIVER = `
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
name = sys.argv[1]
s.bind("\\0" + name[1:] if name.startswith("@") else name)
print(json.dumps({"listening": True}), flush=True)
while True:
    data, ancillary, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", payload[:12])[0]
    print(json.dumps({"pid": pid, "message": data.decode()}), flush=True)
`;

interface Datagram { pid: number; message: string }

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => {});
}, 30_000);

/** Starts the receiver on `name` and resolves once it is bound. */
async function listen(name: string) {
  const proc = Bun.spawn([requireTool("python3"), "-c", RECEIVER, name], { stdout: "pipe", stderr: "pipe" });
  cleanup.push(async () => { proc.kill("SIGKILL"); await proc.exited; });
  const received: Datagram[] = [];
  let bound!: () => void;
  const ready = new Promise<void>((resolve) => { bound = resolve; });
  void (async () => {
    let buffered = "";
    for await (const chunk of proc.stdout) {
      buffered += new TextDecoder().decode(chunk);
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = JSON.parse(buffered.slice(0, nl)) as Datagram & { listening?: true };
        buffered = buffered.slice(nl + 1);
        if (line.listening) bound(); else received.push(line);
      }
    }
  })();
  await Promise.race([ready, proc.exited.then(async () => { throw new Error(`receiver exited: ${await new Response(proc.stderr).text()}`); })]);
  /** Resolves when `count` datagrams have arrived (or fails after 10 s with what did). */
  const waitFor = async (count: number) => {
    await waitForCondition(`${count} datagrams`, () => received.length >= count, 10_000, { everyMs: 10 })
      .catch(() => { throw new Error(`expected ${count} datagrams, got ${JSON.stringify(received)}`); });
    return received.slice(0, count);
  };
  return { received, waitFor };
}

const abstractName = () => `@linkfort-test-${crypto.randomUUID()}`;
async function socketPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "linkfort-notify-"));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return join(dir, "notify.sock");
}

describe("sd_notify", () => {
  test("READY=1 with a one-line STATUS reaches a path socket, sent by this process's own PID", async () => {
    const path = await socketPath();
    const receiver = await listen(path);
    const notifier = createSystemdNotifier({ NOTIFY_SOCKET: path });
    expect(notifier.enabled).toBe(true);
    expect(notifier.ready("serving on 127.0.0.1:8081\nsecond line")).toBe(true);
    notifier.close();
    expect(await receiver.waitFor(1)).toEqual([{ pid: process.pid, message: "READY=1\nSTATUS=serving on 127.0.0.1:8081 second line" }]);
  });

  test("STATUS, STOPPING=1 and MAINPID reach an abstract socket (NOTIFY_SOCKET=@name)", async () => {
    const name = abstractName();
    const receiver = await listen(name);
    const notifier = createSystemdNotifier({ NOTIFY_SOCKET: name });
    notifier.status("migrating");
    notifier.stopping("draining");
    notifier.mainPid(4242);
    notifier.close();
    expect((await receiver.waitFor(3)).map((d) => d.message)).toEqual(["STATUS=migrating", "STOPPING=1\nSTATUS=draining", "MAINPID=4242"]);
  });

  test("the variables are taken out of the environment, so children do not notify in our name", () => {
    const env: Record<string, string | undefined> = { NOTIFY_SOCKET: "@x", WATCHDOG_USEC: "1000000", WATCHDOG_PID: String(process.pid), KEEP: "1" };
    const notifier = createSystemdNotifier(env);
    expect(env).toEqual({ KEEP: "1" });
    expect(notifier.watchdogIntervalMs).toBe(500);
  });

  test("without NOTIFY_SOCKET every call is a no-op that reports false", () => {
    const errors: Error[] = [];
    const notifier = createSystemdNotifier({ WATCHDOG_USEC: "1000000" }, { onError: (e) => errors.push(e) });
    expect([notifier.enabled, notifier.watchdogIntervalMs, notifier.ready(), notifier.stopping()]).toEqual([false, null, false, false]);
    notifier.startWatchdog()();
    expect(errors).toEqual([]);
  });

  test("a socket nobody listens on: the send fails, and the same error is reported once until a send succeeds", async () => {
    const errors: string[] = [];
    const notifier = createSystemdNotifier({ NOTIFY_SOCKET: abstractName() }, { onError: (e) => errors.push(e.message) });
    expect([notifier.status("a"), notifier.status("b")]).toEqual([false, false]);
    notifier.close();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^sd_notify to @linkfort-test-.* failed: ECONNREFUSED$/);
  });

  test("the watchdog pings every WATCHDOG_USEC/2 until stopped, from our PID", async () => {
    const name = abstractName();
    const receiver = await listen(name);
    const notifier = createSystemdNotifier({ NOTIFY_SOCKET: name, WATCHDOG_USEC: "100000", WATCHDOG_PID: String(process.pid) });
    expect(notifier.watchdogIntervalMs).toBe(50);
    const stop = notifier.startWatchdog();
    const pings = await receiver.waitFor(3);
    stop();
    expect(pings).toEqual([1, 2, 3].map(() => ({ pid: process.pid, message: "WATCHDOG=1" })));
    const count = receiver.received.length;
    // A fixed window on purpose: it proves that no ping comes after stop() (four intervals).
    await Bun.sleep(200);
    expect(receiver.received).toHaveLength(count);
    notifier.close();
  });

  test("WATCHDOG_PID of another process (a child that inherited it) means no pings", () => {
    const notifier = createSystemdNotifier({ NOTIFY_SOCKET: "@x", WATCHDOG_USEC: "100000", WATCHDOG_PID: String(process.pid + 1) });
    expect(notifier.watchdogIntervalMs).toBeNull();
  });
});

describe("the compiled linkfort binary under Type=notify", () => {
  test("sends READY=1 once /ready answers 200, watchdog pings while serving, and STOPPING=1 when SIGTERM starts the drain", async () => {
    const [bin, db] = await Promise.all([buildBinary(), createDatabase()]);
    cleanup.push(() => dropDatabase(db.name));
    const name = abstractName();
    const receiver = await listen(name);
    const b = await startBinary(bin, { DATABASE_URL: db.url, NOTIFY_SOCKET: name, WATCHDOG_USEC: "200000", SHUTDOWN_DRAIN_MS: "0" });
    cleanup.push(() => b.stop("SIGKILL"));

    const ready = await waitForCondition("READY=1 from the binary", () => {
      const found = receiver.received.find((d) => d.message.startsWith("READY=1"));
      if (!found && b.proc.exitCode !== null) throw new Error(`binary exited:\n${b.output()}`);
      return found;
    }, 30_000, { everyMs: 10 });
    // READY=1 is sent only after the instance is ready: /ready must already answer 200.
    const probe = await fetch(`${b.base}/ready`);
    expect([probe.status, await probe.json()]).toEqual([200, { status: "ready" }]);
    expect(ready).toEqual({ pid: b.proc.pid, message: `READY=1\nSTATUS=serving on 127.0.0.1:${b.port}` });
    const pingsBefore = receiver.received.filter((d) => d.message === "WATCHDOG=1").length;
    await receiver.waitFor(receiver.received.length + 2);

    expect(await b.stop("SIGTERM")).toBe(0);
    const messages = receiver.received.map((d) => d.message).filter((m) => m !== "WATCHDOG=1");
    expect(messages).toEqual([
      "STATUS=migrating the database",
      `READY=1\nSTATUS=serving on 127.0.0.1:${b.port}`,
      "STOPPING=1\nSTATUS=draining (SIGTERM)",
    ]);
    expect(receiver.received.filter((d) => d.message === "WATCHDOG=1").length).toBeGreaterThan(pingsBefore);
    expect(new Set(receiver.received.map((d) => d.pid))).toEqual(new Set([b.proc.pid]));
  }, 120_000);
});
