import { describe, expect, test } from "bun:test";
import { coalesce } from "./coalesce.ts";

/** A run whose every call waits until the test releases it, recording what it was given. */
function gatedRun() {
  const calls: number[][] = [];
  const gates: (() => void)[] = [];
  const run = async (items: readonly number[]) => {
    calls.push([...items]);
    await new Promise<void>((resolve) => gates.push(resolve));
    return items.map((n) => (n < 0 ? new Error(`refused ${n}`) : n * 10));
  };
  return { calls, gates, run };
}

const settled = <T>(p: Promise<T>) => p.then((value) => ({ value }), (error: Error) => ({ error: error.message }));

describe("coalesce", () => {
  test("a lone call goes out at once; calls arriving while the slots are busy leave together, at most maxBatch", async () => {
    const { calls, gates, run } = gatedRun();
    const submit = coalesce({ maxBatch: 3, maxInFlight: 1, run });
    const first = submit(1);
    expect(calls).toEqual([[1]]);
    const rest = [2, 3, 4, 5].map(submit);
    expect(calls).toEqual([[1]]);
    gates.shift()!();
    expect(await first).toBe(10);
    expect(calls).toEqual([[1], [2, 3, 4]]);
    gates.shift()!();
    // The slot is freed before a batch's callers hear back, so the next batch is out by then.
    expect(await rest[0]).toBe(20);
    expect(calls).toEqual([[1], [2, 3, 4], [5]]);
    gates.shift()!();
    expect(await Promise.all(rest)).toEqual([20, 30, 40, 50]);
  });

  test("each caller gets its own outcome: one item's error fails only that caller", async () => {
    const { gates, run } = gatedRun();
    const submit = coalesce({ maxBatch: 10, maxInFlight: 1, run });
    const blocker = submit(0);
    const answers = [7, -1, 8].map((n) => settled(submit(n)));
    gates.shift()!();
    await blocker;
    gates.shift()!();
    expect(await Promise.all(answers)).toEqual([{ value: 70 }, { error: "refused -1" }, { value: 80 }]);
  });

  test("after runs once per batch, with its outcomes, before any caller of the batch hears back", async () => {
    const seen: string[] = [];
    const submit = coalesce<number, number>({
      maxBatch: 10, maxInFlight: 1,
      run: async (items) => items.map((n) => n + 1),
      after: async (outcomes) => { seen.push(`after ${outcomes.join(",")}`); },
    });
    const answers = [1, 2, 3].map((n) => submit(n).then((v) => seen.push(`answer ${v}`)));
    await Promise.all(answers);
    expect(seen.filter((x) => x.startsWith("after"))).toEqual(["after 2", "after 3,4"]);
    const at = (x: string) => seen.indexOf(x);
    expect([at("after 2") < at("answer 2"), at("after 3,4") < at("answer 3"), at("after 3,4") < at("answer 4")]).toEqual([true, true, true]);
  });

  test("a run that throws fails every caller of that batch, and the next batch still runs", async () => {
    let fail = true;
    const submit = coalesce<number, number>({
      maxBatch: 10, maxInFlight: 1,
      run: async (items) => {
        if (fail) { fail = false; throw new Error("statement failed"); }
        return [...items];
      },
    });
    const answers = [1, 2].map((n) => settled(submit(n)));
    expect(await Promise.all(answers)).toEqual([{ error: "statement failed" }, { value: 2 }]);
  });
});
