/** The drill's command line: what it refuses before touching the stack, and how its options are told from settings. */
import { describe, expect, test } from "bun:test";
import { testSupervisorConfig } from "../config.ts";
import { drillArgs, runDrillCommand } from "./cli.ts";

async function run(rest: string[], overrides: Parameters<typeof testSupervisorConfig>[0]) {
  const lines: string[] = [];
  const code = await runDrillCommand(testSupervisorConfig(overrides), rest, (l) => lines.push(l));
  return { code, out: lines.join("\n") };
}

describe("drill command line", () => {
  test("the drill's own options go to the drill, settings stay flags for the config", () => {
    const { flags, rest } = drillArgs(["--fault", "instance-kill", "--status-port", "9200", "--json", "out.json", "--all"]);
    expect([...flags]).toEqual([["status-port", "9200"]]);
    expect(rest).toEqual(["--fault", "instance-kill", "--json", "out.json", "--all", "true"]);
  });

  test("DRILLS=off (the default) refuses with exit 2, whatever the arguments", async () => {
    const { code, out } = await run(["--all"], {});
    expect(code).toBe(2);
    expect(out).toBe("drill refused: drills are off for this supervisor (DRILLS=off, the default). Set DRILLS=on in the supervisor's settings of a staging or quick-start stack; never on production.");
  });

  test("without an admin key the drill is refused", async () => {
    const { code, out } = await run(["--all"], { drills: "on" });
    expect(code).toBe(2);
    expect(out).toBe("drill refused: it needs an admin API key to make its own user and links (--admin-key or LINKFORT_ADMIN_KEY)");
  });

  describe("bad options exit 2 naming the problem", () => {
    const cases: [string[], string][] = [
      [[], "give exactly one of --fault NAME, --all or --monkey MS"],
      [["--all", "--fault", "instance-kill"], "give exactly one of --fault NAME, --all or --monkey MS"],
      [["--all", "--monkey", "60000"], "give exactly one of --fault NAME, --all or --monkey MS"],
      [["--monkey", "9000000"], "--monkey must be an integer from 1 to 7200000"],
      [["--fault", "instance-kill,disk-fill"], `unknown fault "disk-fill"`],
      [["--all", "--rate", "0"], "--rate must be an integer from 1 to 2000"],
      [["--all", "--phase-ms", "ten"], "--phase-ms must be an integer from 1 to 600000"],
    ];
    for (const [args, message] of cases) {
      test(`${args.join(" ") || "(nothing)"}`, async () => {
        const { code, out } = await run(args, { drills: "on", adminKey: "lf_x" });
        expect(code).toBe(2);
        expect(out.split("\n")[0]).toStartWith(`drill: ${message}`);
      });
    }
  });
});
