/**
 * @module Click accounting for the VM test: the requests vm-load.ts logged, the clicked events
 * PostgreSQL holds for them, whether every spool on the guest has shipped, and the Redis click
 * stream a release before the spool left behind.
 */
import { randomUUID } from "node:crypto";
import type { Bed } from "./vm-bed.ts";

/** One line of vm-load.ts's REQUEST_LOG. */
export interface LoggedRequest {
  agent: string;
  status: number;
  startMs: number;
  endMs: number;
}

export function parseRequestLog(text: string): LoggedRequest[] {
  return text.split("\n").filter(Boolean).map((line) => {
    const [agent, status, startMs, endMs] = line.split(" ");
    return { agent: agent!, status: Number(status), startMs: Number(startMs), endMs: Number(endMs) };
  });
}

const psql = (bed: Bed, query: string) => bed.sh(`runuser -u postgres -- psql -X -d linkfort -Atc "${query}"`);

/** Clicked events of `code` whose user agent starts with `tag-`, counted per user agent. */
export async function clickedByAgent(bed: Bed, code: string, tag: string): Promise<Map<string, number>> {
  // Test data only (a base-62 code, a tag of letters and digits): nothing to escape.
  const rows = await psql(bed, `select details->>'user_agent', count(*) from events where event_type = 'clicked' and details->>'short_code' = '${code}' and details->>'user_agent' like '${tag}-%' group by 1`);
  return new Map(rows.split("\n").filter(Boolean).map((row) => {
    const [agent, count] = row.split("|");
    return [agent!, Number(count)];
  }));
}

/** Each instance's `/health` `click_spool.unshipped_clicks` (null: its shipper has not read the committed position yet). */
export async function unshippedPerInstance(bed: Bed, ports: readonly number[]): Promise<(number | null)[]> {
  return Promise.all(ports.map(async (port) => {
    const health = JSON.parse(await bed.sh(`curl -s --max-time 5 http://127.0.0.1:${port}/health`)) as { click_spool: { unshipped_clicks: number | null } };
    return health.click_spool.unshipped_clicks;
  }));
}

/**
 * `linkfort spool status` over the VM's spool root, as the runbook has an operator run it: reads
 * the segment files and the committed positions, so it is exact where /health is a gauge.
 */
export async function spoolStatus(bed: Bed): Promise<string> {
  return bed.sh("set -a; . /etc/linkfort/linkfort.env; set +a; linkfort spool status /var/lib/linkfort/data/spool");
}

/** The link's id and owner, as the old release put them in each stream entry. */
export async function linkIds(bed: Bed, code: string): Promise<{ urlId: number; userId: number }> {
  const [urlId, userId] = (await psql(bed, `select id, user_id from urls where short_code = '${code}'`)).split("|").map(Number);
  return { urlId: urlId!, userId: userId! };
}

/** Redis's wire format (RESP) for one command, for `redis-cli --pipe`. */
const resp = (args: readonly string[]) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;

export interface OldStream {
  /** RESP commands for `redis-cli --pipe`: the consumer group, then the entries. */
  commands: string;
  /** SQL that writes the first `alreadyWritten` clicks as the old consumer did (event and receipt), before it acked them. */
  writtenByOldRelease: string;
  /** Every click's user agent: `tag-n`. */
  agents: string[];
}

/**
 * Clicks as a release before the click spool left them in its Redis stream (key `lf:clicks`, at
 * commit ee309e3: service/src/clicks/stream.ts and consumer.ts). Most entries are the one-field
 * format `k` = JSON [click id, url id, code, answered at ms, referrer, agent, ip]; the last
 * `fieldPerProperty` are the still older format of one field per property (id u c t r a ip).
 * The consumer group the old instances read it as is created first, as they did.
 * The first `alreadyWritten` are also events with click receipts: the old consumer had written
 * them but the stream still held them (not yet acked, or acked and not yet trimmed).
 */
export function oldStreamClicks(opts: { key: string; code: string; urlId: number; userId: number; tag: string; count: number; fieldPerProperty: number; alreadyWritten: number }): OldStream {
  const commands = [resp(["XGROUP", "CREATE", opts.key, "linkfort", "0", "MKSTREAM"])];
  const agents: string[] = [];
  const written: string[] = [];
  const at = Date.now() - 60_000;
  for (let n = 1; n <= opts.count; n++) {
    const id = randomUUID();
    const agent = `${opts.tag}-${n}`;
    agents.push(agent);
    const fields = n > opts.count - opts.fieldPerProperty
      ? ["id", id, "u", String(opts.urlId), "c", opts.code, "t", String(at + n), "a", agent, "ip", "192.0.2.7"]
      : ["k", JSON.stringify([id, opts.urlId, opts.code, at + n, null, agent, "192.0.2.7"])];
    commands.push(resp(["XADD", opts.key, "*", ...fields]));
    if (n <= opts.alreadyWritten) {
      const details = JSON.stringify({ short_code: opts.code, user_agent: agent, client_ip: "192.0.2.7" });
      written.push(`insert into click_receipts (click_id) values ('${id}');`,
        `insert into events (url_id, user_id, event_type, timestamp, details) values (${opts.urlId}, ${opts.userId}, 'clicked', now(), '${details}');`);
    }
  }
  return { commands: commands.join(""), writtenByOldRelease: `begin;\n${written.join("\n")}\ncommit;\n`, agents };
}
