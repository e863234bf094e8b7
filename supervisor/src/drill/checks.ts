/**
 * @module The data checks after a drill: every create answered 201 is a row in PostgreSQL, so is
 * every row of every import answered 201 (a user), and every redirect answered 302 is a `clicked` event once every instance's spool has drained. The
 * drill's links are its own, made for this drill, so every click on them came from its load.
 */
import postgres from "postgres";
import { connectionTarget } from "../../../service/src/db/primary.ts";
import type { Sample } from "./load.ts";
import type { DataCheck } from "./report.ts";
import { pollUntil, spoolsDrained, type Stack } from "./stack.ts";

export interface CheckOptions {
  /** How long the spools have to drain (ms). */
  drainTimeoutMs: number;
}

export async function checkData(stack: Stack, samples: readonly Sample[], linkIds: number[], opts: CheckOptions): Promise<DataCheck> {
  const drained = (await pollUntil(() => spoolsDrained(stack), opts.drainTimeoutMs, 200)) !== null;
  const created = samples.filter((s) => s.kind === "create" && s.outcome === "ok" && s.code).map((s) => s.code!);
  const importsAnswered = samples.filter((s) => s.kind === "import" && s.outcome === "ok");
  const importedRows = importsAnswered.flatMap((s) => s.rows ?? []);
  const redirects = samples.filter((s) => s.kind === "redirect" && s.outcome === "ok").length;
  // A cluster URL: counted on the primary, which has every acknowledged write (db/primary.ts).
  const target = connectionTarget(stack.databaseUrl, "linkfort-drill-check");
  const sql = postgres(target.url, { ...(target.socket ? { socket: target.socket } : {}), max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    const [found] = await sql<{ n: number }[]>`select count(*)::int as n from urls where short_code in (select jsonb_array_elements_text(${JSON.stringify(created)}::text::jsonb))`;
    const [usersFound] = await sql<{ n: number }[]>`select count(*)::int as n from users where username in (select jsonb_array_elements_text(${JSON.stringify(importedRows)}::text::jsonb))`;
    const clicks = async () => (await sql<{ n: number }[]>`select count(*)::int as n from events where event_type = 'clicked' and url_id in (select jsonb_array_elements_text(${JSON.stringify(linkIds)}::text::jsonb)::int)`)[0]!.n;
    // A shipped batch is committed before /health counts it, so this settles at once; the short
    // wait only covers a shipper that committed between the two reads.
    let recorded = await clicks();
    if (recorded < redirects) await pollUntil(async () => (recorded = await clicks()) >= redirects, 5_000, 250);
    return {
      drained, creates_answered: created.length, creates_missing: created.length - found!.n,
      imports_answered: importsAnswered.length, import_rows_answered: importedRows.length, import_rows_missing: importedRows.length - usersFound!.n,
      redirects_answered: redirects, clicks_recorded: recorded, clicks_lost: Math.max(0, redirects - recorded),
    };
  } finally {
    await sql.end({ timeout: 2 });
  }
}
