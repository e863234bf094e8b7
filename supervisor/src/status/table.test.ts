import { describe, expect, test } from "bun:test";
import { sampleSnapshot } from "../../test/status-sample.ts";
import { formatBytes, formatDuration } from "./format.ts";
import { formatStatusTable } from "./table.ts";

describe("formatStatusTable", () => {
  test("prints instances, backups and alerts as aligned columns", () => {
    expect(formatStatusTable(sampleSnapshot())).toBe(`linkfort-supervisor 0.1.0  runner: process  up 1h 02m

INSTANCES
PORT  STATE     VERSION       PID   UPTIME  RESTARTS  FAILS  PROBE   RSS       SPOOL                       LAST ERROR
8081  ready     0.1.0         4242  1h 01m  0         0      2.4 ms  52.0 MiB  1.3k clicks, oldest 3m 05s  -
8082  backoff   -             -     -       4         3      -       -         -                           <script>alert(1)</script> [31m red
8083  starting  0.2.0-rc.1 *  4301  2s      1         0      812 ms  30.0 MiB  0                           exit code 1
* not the supervisor's release (0.1.0): a rolling deploy under way, or one that stopped

BACKUPS
last success  2025-01-02T03:00:04.120Z (took 4s, 1.5 MiB)
last failure  -
next run      2025-01-03T03:00:00.000Z

FILE                            SIZE     CREATED                   VERIFIED  FROM
linkfort-20250102T030000Z.dump  1.5 MiB  2025-01-02T03:00:04.120Z  yes       db2:5432 standby

ALERTS  sent 7, dropped 1, queued 0
AT                        SEVERITY  KEY                 TITLE                     MESSAGE   DELIVERED
2025-01-02T10:15:00.000Z  critical  instance-down:8082  Instance 8082 is down     raised    yes
2025-01-02T09:00:00.000Z  warning   backup-old          Backup <older> than 26 h  resolved  no
`);
  });

  test("a value cannot drive the terminal: control characters become spaces, long errors are cut", () => {
    const s = sampleSnapshot();
    s.instances = [{ ...s.instances[0]!, last_error: `boom\u001b]0;pwned\u0007\n${"x".repeat(100)}` }];
    const row = formatStatusTable(s).split("\n")[4]!;
    expect(row).not.toMatch(/[\u0000-\u001f]/);
    expect(row).toEndWith(`boom ]0;pwned ${"x".repeat(45)}…`); // 60 characters with the ellipsis
  });

  test("every instance on the supervisor's release: no star, no footnote; a long version is cut", () => {
    const s = sampleSnapshot();
    s.instances = s.instances.map((i) => ({ ...i, version: i.version === null ? null : "0.1.0" }));
    expect(formatStatusTable(s)).not.toContain("*");
    s.instances = [{ ...s.instances[0]!, version: `1.0.0-\u001b[2J${"x".repeat(60)}` }];
    const [header, row, footnote] = formatStatusTable(s).split("\n").slice(3, 6);
    expect(header).toStartWith("PORT  STATE  VERSION                     PID");
    expect(row).toStartWith(`8081  ready  1.0.0- [2J${"x".repeat(13)}… *  4242`); // 24 characters with the ellipsis, then the star
    expect(footnote).toBe("* not the supervisor's release (0.1.0): a rolling deploy under way, or one that stopped");
  });

  test("empty lists say so", () => {
    const s = sampleSnapshot();
    s.instances = [];
    s.backups.files = [];
    s.alerts.recent = [];
    expect(formatStatusTable(s).match(/\(none\)/g)).toHaveLength(3);
  });
});

describe("formats", () => {
  test("durations and sizes", () => {
    expect([0, 59, 75, 3725, 200_000].map(formatDuration)).toEqual(["0s", "59s", "1m 15s", "1h 02m", "2d 07h"]);
    expect(formatDuration(null)).toBe("-");
    expect([0, 1023, 1536, 5 * 1024 ** 3].map(formatBytes)).toEqual(["0 B", "1023 B", "1.5 KiB", "5.0 GiB"]);
  });
});
