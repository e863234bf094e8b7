/**
 * The fence protocol on its own: payloads are handed back to `heard` in the order a test chooses,
 * as PostgreSQL would deliver them in commit order (the end-to-end behaviour over real PostgreSQL
 * is in invalidation.test.ts and live-codes.test.ts).
 */
import { describe, expect, test } from "bun:test";
import { createFences } from "./fences.ts";

function fenceKit() {
  const sent: string[] = [];
  const fences = createFences({ send: async (payload) => { sent.push(payload); return true; }, peerLifeMs: 60_000 });
  /** The instance's id and the sequence number of the fence it sent last. */
  const own = () => {
    const last = sent.filter((p) => p.startsWith("!")).at(-1)!;
    const [id, seq] = last.slice(2).split(":") as [string, string];
    return { payload: last, id, seq };
  };
  return { fences, sent, own };
}

/** Whether the promise has settled once every pending microtask ran (nothing here waits on a timer). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => { done = true; });
  await Bun.sleep(0);
  return done;
}

describe("a write's fence", () => {
  test("waits for a peer first heard while the fence was on its way, until that peer acks", async () => {
    const { fences, own } = fenceKit();
    const result = fences.fence("w", 5_000);
    await Bun.sleep(0);
    const { payload, id, seq } = own();
    fences.heard("!hnewpeer:1"); // committed before our fence: the peer listens, so it will ack
    fences.heard(payload);
    expect(await settled(result)).toBe(false);
    fences.heard(`?${id}:${seq}:newpeer`);
    expect(await result).toBe("heard");
    expect(fences.peers).toBe(1);
  });

  test("does not wait for a peer first heard after the fence came back", async () => {
    const { fences, own } = fenceKit();
    const result = fences.fence("w", 5_000);
    await Bun.sleep(0);
    fences.heard(own().payload);
    fences.heard("!hlatecomer:1");
    expect(await result).toBe("heard");
  });

  test("an ack this instance sent to another never makes it wait for itself", async () => {
    const { fences, own, sent } = fenceKit();
    fences.heard("!wother:7"); // another writer's fence: this instance acks it
    await Bun.sleep(0);
    const ack = sent.find((p) => p.startsWith("?other:7:"))!;
    const result = fences.fence("w", 5_000);
    await Bun.sleep(0);
    fences.heard(ack); // our own ack comes back on the channel before our fence
    fences.heard(own().payload);
    // "other" was heard (its fence) and waits to be acked like any live peer.
    expect(await settled(result)).toBe(false);
    fences.heard(`?${own().id}:${own().seq}:other`);
    expect(await result).toBe("heard");
  });
});

describe("lastHeardSentAt", () => {
  test("is when the newest own fence heard back was sent", async () => {
    const { fences, own } = fenceKit();
    expect(fences.lastHeardSentAt).toBe(Number.NEGATIVE_INFINITY);
    const before = performance.now();
    const first = fences.fence("h", 5_000);
    await Bun.sleep(0);
    const firstPayload = own().payload;
    const second = fences.fence("h", 5_000);
    await Bun.sleep(0);
    fences.heard(firstPayload);
    await first;
    const afterFirst = fences.lastHeardSentAt;
    expect(afterFirst).toBeGreaterThanOrEqual(before);
    fences.heard(own().payload);
    await second;
    expect(fences.lastHeardSentAt).toBeGreaterThanOrEqual(afterFirst);
    expect(fences.lastHeardSentAt).toBeLessThanOrEqual(performance.now());
  });

  test("does not move for a fence that was never heard", async () => {
    const { fences } = fenceKit();
    expect(await fences.fence("h", 10)).toBe("missed");
    expect(fences.lastHeardSentAt).toBe(Number.NEGATIVE_INFINITY);
  });
});
