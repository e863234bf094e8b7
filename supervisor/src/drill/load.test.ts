/** The load's imports: multipart CSVs of new, unique users on their own schedule, judged by status. */
import { afterAll, describe, expect, test } from "bun:test";
import { waitFor } from "../../../service/test/wait.ts";
import { importRows, startLoad, type LoadTargets } from "./load.ts";

/** A stand-in for the public port that keeps every upload it gets; the second import is answered 503. */
const uploads: { authorization: string | null; name: string; csv: string }[] = [];
const server = Bun.serve({
  hostname: "127.0.0.1", port: 0,
  async fetch(req) {
    if (req.method !== "POST" || new URL(req.url).pathname !== "/users/bulk") return new Response("unexpected", { status: 500 });
    const file = (await req.formData()).get("file");
    if (!(file instanceof File)) return new Response("no file part", { status: 400 });
    uploads.push({ authorization: req.headers.get("authorization"), name: file.name, csv: await file.text() });
    return uploads.length === 2 ? new Response("{}", { status: 503 }) : Response.json({ imported: 1, skipped: 0, errors: [], errors_truncated: false }, { status: 201 });
  },
});
afterAll(() => server.stop(true));

const targets = (tag: string): LoadTargets => ({ baseUrl: `http://127.0.0.1:${server.port}`, adminKey: "lf_test", userId: 1, links: [{ id: 1, shortCode: "abc" }], tag });

describe("drill load imports", () => {
  test("each import uploads a users CSV of 5 to 20 rows named after the drill's tag, and its sample carries those rows and its outcome", async () => {
    uploads.length = 0;
    // rate 0: no request of the mix at all, only the imports' own schedule.
    const load = startLoad(targets("drill-x-1"), { rate: 0, maxMs: 20_000, importEveryMs: 20 });
    await waitFor("three imports answered", () => load.samples().length >= 3);
    const { samples } = await load.stop();
    expect(samples.every((s) => s.kind === "import")).toBe(true);
    expect(uploads.length).toBe(samples.length);
    for (const upload of uploads) {
      expect(upload.authorization).toBe("Bearer lf_test");
      const [header, ...lines] = upload.csv.trimEnd().split("\n");
      expect(header).toBe("username,email");
      const k = Number(/-imp(\d+)\.csv$/.exec(upload.name)![1]);
      expect(lines.length).toBe(importRows(k));
      for (const line of lines) expect(line).toMatch(new RegExp(`^(drill-x-1-imp${k}-\\d+),\\1@example\\.com$`));
      // The sample of this import holds exactly the usernames it sent.
      const sample = samples.find((s) => s.rows?.[0] === lines[0]!.split(",")[0]);
      expect(sample?.rows).toEqual(lines.map((l) => l.split(",")[0]!));
    }
    const all = samples.flatMap((s) => s.rows ?? []);
    expect(new Set(all).size).toBe(all.length);
    const byOutcome = samples.map((s) => `${s.outcome} ${s.status}`);
    expect(byOutcome.filter((o) => o === "5xx 503")).toHaveLength(1);
    expect(byOutcome.filter((o) => o !== "5xx 503").every((o) => o === "ok 201")).toBe(true);
  });

  test("imports are off unless asked for, and their sizes stay within 5 to 20 rows", async () => {
    uploads.length = 0;
    // The mix alone (the stand-in answers its requests 500): an import due at the start would have gone before the fifth answer.
    const load = startLoad(targets("drill-y-2"), { rate: 200, maxMs: 20_000 });
    await waitFor("five answers of the mix", () => load.samples().length >= 5);
    const { samples } = await load.stop();
    expect(samples.filter((s) => s.kind === "import")).toEqual([]);
    expect(uploads).toEqual([]);
    const sizes = Array.from({ length: 64 }, (_, k) => importRows(k));
    expect(Math.min(...sizes)).toBe(5);
    expect(Math.max(...sizes)).toBe(20);
  });
});
